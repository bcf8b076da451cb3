import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { BenchFigure } from './report';

// A subject with many entries across three tenants, and the same entries exported one log at a time.
const FULL = { entries: 10_000 };
const QUICK = { entries: 600 };
const TENANTS = ['subj0', 'subj1', 'subj2'];
const SUBJECT = 'bench-subject';
const BATCH = 500;

/** The first legal person, made as the operator does (`principals first-legal`), with its key. */
async function firstLegalKey(env: NodeJS.ProcessEnv): Promise<string> {
  const cli = spawn(
    process.execPath,
    [
      join(__dirname, '..', 'src', 'cli.js'),
      'principals',
      'first-legal',
      '--name',
      'bench-legal',
      '--email',
      'bench-legal@example.test',
    ],
    { env, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  cli.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  const code = await new Promise<number | null>((resolve) => cli.once('exit', resolve));
  if (code !== 0) throw new Error(`principals first-legal exited ${code}`);
  return (JSON.parse(out) as { key: { key: string } }).key.key;
}

/** Streams `path` and counts its lines; the seconds it took. */
async function timedLines(url: string, path: string, key: string): Promise<{ lines: number; seconds: number }> {
  const s = process.hrtime.bigint();
  const res = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${key}` } });
  if (!res.ok || !res.body) throw new Error(`${path}: HTTP ${res.status}`);
  let lines = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    for (let at = bytes.indexOf(10); at !== -1; at = bytes.indexOf(10, at + 1)) lines++;
  }
  return { lines, seconds: Number(process.hrtime.bigint() - s) / 1e9 };
}

/**
 * The access bundle of a subject with `entries` entries over three tenants, against the three
 * exports of the same entries (GET /v1/exports?tenant=…&subject=…) taken back to back in the same
 * run: the bundle is those exports behind one request, so it should cost about as much.
 * `env`: the service's environment, for the command line that makes the legal person.
 */
export async function subjectBundleBench(
  url: string,
  headers: Record<string, string>,
  env: NodeJS.ProcessEnv,
  quick: boolean,
  log: (line: string) => void,
): Promise<BenchFigure[]> {
  const { entries } = quick ? QUICK : FULL;
  log(`service: ${entries.toLocaleString('en-US')} entries about one subject over ${TENANTS.length} tenants`);
  const perTenant = Math.ceil(entries / TENANTS.length);
  for (const tenant of TENANTS)
    for (let from = 0; from < perTenant; from += BATCH) {
      const events = Array.from({ length: Math.min(BATCH, perTenant - from) }, (_, i) => ({
        tenant,
        type: 'support.ticket.opened',
        actor: { type: 'user', id: SUBJECT },
        personal: { subject: SUBJECT, data: { email: `${SUBJECT}@example.com`, n: from + i } },
      }));
      const res = await fetch(`${url}/v1/events/batch`, { method: 'POST', headers, body: JSON.stringify({ events }) });
      if (!res.ok) throw new Error(`loading the subject's entries: HTTP ${res.status}`);
    }
  const total = perTenant * TENANTS.length;
  const legal = await firstLegalKey(env);
  const asLegal = { authorization: `Bearer ${legal}`, 'content-type': 'application/json' };
  const request = await fetch(`${url}/v1/subject-requests`, {
    method: 'POST',
    headers: asLegal,
    body: JSON.stringify({ kind: 'access', subject: SUBJECT, tenants: TENANTS, reason: 'benchmark' }),
  });
  if (request.status !== 202) throw new Error(`subject request: HTTP ${request.status}`);
  const { id } = (await request.json()) as { id: string };

  // Exports first: they also bring the search read model up to date, which neither then waits for.
  const investigator = headers.authorization.slice('Bearer '.length);
  let exportSeconds = 0;
  for (const tenant of TENANTS) {
    const { lines, seconds } = await timedLines(url, `/v1/exports?tenant=${tenant}&subject=${SUBJECT}`, investigator);
    if (lines - 1 !== perTenant) throw new Error(`the export of ${tenant} held ${lines - 1} entries, not ${perTenant}`);
    exportSeconds += seconds;
  }
  log(`service: the access bundle of those ${total.toLocaleString('en-US')} entries`);
  const bundle = await timedLines(url, `/v1/subject-requests/${id}/bundle`, legal);
  if (bundle.lines - TENANTS.length !== total)
    throw new Error(`the bundle held ${bundle.lines - TENANTS.length} entries, not ${total}`);
  return [
    {
      name: `subject access bundle of ${total.toLocaleString('en-US')} entries across ${TENANTS.length} tenants (NDJSON with proofs)`,
      value: total / bundle.seconds,
      unit: 'entries/s',
      baseline: {
        name: `the ${TENANTS.length} exports of the same entries, back to back`,
        value: total / exportSeconds,
      },
      target: { kind: 'min-ratio', value: 0.5 },
    },
  ];
}
