/**
 * Whether the database agrees with the checkpoint mirror (AUDIT_CHECKPOINT_DIR), and what follows
 * for an append while it does not. Pure: the caller reads the mirror and the database.
 *
 * The mirror is the authority: it lives outside PostgreSQL, so a database restored from an old
 * backup, rolled back or forked cannot rewrite it. While any log disagrees, the service writes no
 * new history over the one the mirror proves existed: appends are refused until an operator
 * acknowledges the disagreement (`npm run cli -- ledger acknowledge-rollback`), except the
 * records of reads, so investigators can look into the incident, and that acknowledgement.
 */

/** One disagreement between the database and the checkpoint mirror. */
export interface MirrorDisagreement {
  readonly log: string;
  readonly problem: 'database_behind' | 'database_forked';
  readonly mirroredSize: number;
}

/**
 * How `log` stands against its latest mirrored checkpoint: none when the mirror has no checkpoint
 * of it or the database holds that very checkpoint; `database_behind` when the database holds no
 * checkpoint of that size (an old backup, a lost tail, or a log it does not have at all);
 * `database_forked` when it holds another one (another root at the same size).
 * `recordedNote`: the database's checkpoint note at `mirrored.size`, or null when it has none.
 */
export function compareWithMirror(
  log: string,
  mirrored: { readonly size: number; readonly note: string } | null,
  recordedNote: string | null,
): MirrorDisagreement | null {
  if (mirrored === null) return null;
  if (recordedNote === null) return { log, problem: 'database_behind', mirroredSize: mirrored.size };
  if (recordedNote !== mirrored.note) return { log, problem: 'database_forked', mirroredSize: mirrored.size };
  return null;
}

/**
 * What an append is, for the decision below: a change (an emitter's events, a hold, a key, a
 * deletion: every fact but these two), the record of a read, or the operator's acknowledgement of
 * a disagreement.
 */
export type AppendKind = 'change' | 'read_record' | 'rollback_acknowledgement';

/**
 * Whether an append of `kind` is refused while `disagreements` stand. Only changes are: a read's
 * record is taken (investigating the incident must stay possible, and each read stays recorded),
 * and so is the acknowledgement that ends it.
 */
export function refusesAppend(disagreements: readonly MirrorDisagreement[], kind: AppendKind): boolean {
  switch (kind) {
    case 'change':
      return disagreements.length > 0;
    case 'read_record':
    case 'rollback_acknowledgement':
      return false;
    default: {
      const never: never = kind;
      throw new Error(`unknown append kind ${String(never)}`);
    }
  }
}

/** How many logs a message names before it says how many more there are. */
const NAMED_LOGS = 10;

function named(items: readonly MirrorDisagreement[]): string {
  const shown = items.slice(0, NAMED_LOGS).map((d) => `${d.log} (mirrored at size ${d.mirroredSize})`);
  const more = items.length - shown.length;
  return shown.join(', ') + (more > 0 ? ` and ${more} more` : '');
}

/** One disagreement as a log line says it: the log, the mirrored size and what it means. */
export function describeDisagreement(d: MirrorDisagreement): string {
  return d.problem === 'database_behind'
    ? `DATABASE BEHIND THE CHECKPOINT MIRROR: log ${d.log} was signed at size ${d.mirroredSize}, which the database does not hold (restored from an old backup, rolled back, or its tail lost)`
    : `DATABASE FORKED FROM THE CHECKPOINT MIRROR: log ${d.log} at size ${d.mirroredSize} has another root in the database`;
}

/** What the operator does about a disagreement; every message about one ends with it. */
export const ACKNOWLEDGE_HOW =
  'an operator must find out what happened (service log, npm run cli -- verify) and either restore the database ' +
  'that holds the mirrored history or accept the database as it is with ' +
  'npm run cli -- ledger acknowledge-rollback --reason "<why>", which records the acknowledgement in the platform log ' +
  'and keeps the superseded checkpoints under AUDIT_CHECKPOINT_DIR/_superseded';

/**
 * The message of a refused append (503 ledger_behind_mirror): which logs, why, and what the
 * operator must do. Names logs and sizes only, never a checkpoint, a path or a secret.
 * Requires at least one disagreement.
 */
export function behindMirrorMessage(disagreements: readonly MirrorDisagreement[]): string {
  const behind = disagreements.filter((d) => d.problem === 'database_behind');
  const forked = disagreements.filter((d) => d.problem === 'database_forked');
  const what = [
    ...(behind.length > 0
      ? [`the database is behind the checkpoint mirror for log ${named(behind)}: it lacks checkpoints signed before`]
      : []),
    ...(forked.length > 0 ? [`the database is forked from the checkpoint mirror for log ${named(forked)}`] : []),
  ].join('; and ');
  return (
    `appends are refused, nothing was written: ${what}. Writing on would fork the history the mirror proves existed. ` +
    `Reads and verification still work. To continue, ${ACKNOWLEDGE_HOW}`
  );
}
