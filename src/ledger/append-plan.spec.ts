import { EMPTY_ROOT, LogVerifier, TreeBuilder, decodeLeaf, leafHash } from '@audit/ledger';
import { sampleKey } from '../../libs/ledger/testdata/sample-log';
import { EventToAppend, PLAN_CHUNK, planAppend, planAppendInTurns } from './append-plan';
import { LogHead } from './log-store';

const emptyHead = (log = 'acme'): LogHead => ({
  log,
  size: 0,
  root: EMPTY_ROOT,
  frontier: [],
  lastLeafHash: null,
  lastRecordedAt: null,
});

const event = (i: number, extra: Partial<EventToAppend> = {}): EventToAppend => ({
  log: 'acme',
  source: 'billing',
  type: 'billing.invoice.paid',
  category: 'billing',
  actor: { type: 'user', id: `u${i}` },
  outcome: 'success',
  ...extra,
});

let counter = 0;
const ids = () => `00000000-0000-7000-8000-${(counter++).toString(16).padStart(12, '0')}`;

describe('planAppend', () => {
  it('chains, indexes and hashes entries across successive appends exactly as a fresh tree would', () => {
    let head = emptyHead();
    const leaves: Buffer[] = [];
    const nodes: Buffer[] = [];
    for (const batch of [3, 1, 7, 20]) {
      const plan = planAppend(
        head,
        Array.from({ length: batch }, (_, i) => event(i)),
        new Date('2026-11-27T12:00:00Z'),
        ids,
      );
      plan.entries.forEach((row) => {
        leaves.push(row.leaf);
        nodes.push(row.treeNodes);
        expect(row.leafHash.equals(leafHash(row.leaf))).toBe(true);
      });
      head = plan.head;
    }
    const tree = TreeBuilder.empty();
    leaves.forEach((leaf) => tree.append(leafHash(leaf)));
    expect(head.size).toBe(31);
    expect(head.root.equals(tree.root())).toBe(true);
    const { verifier } = sampleKey();
    const check = new LogVerifier({ log: 'acme', origin: 'x/acme', verifier });
    leaves.forEach((leaf, i) => check.push(leaf, leafHash(leaf), nodes[i]));
    expect(check.finish().problems).toEqual([]);
  });

  it('never lets recordedAt go back, even when the clock does', () => {
    const first = planAppend(emptyHead(), [event(0)], new Date('2026-11-27T12:00:05.000Z'), ids);
    const second = planAppend(first.head, [event(1)], new Date('2026-11-27T12:00:01.000Z'), ids);
    expect(second.appended[0].recordedAt).toBe('2026-11-27T12:00:05.000Z');
    expect(decodeLeaf(second.entries[0].leaf).occurredAt).toBe('2026-11-27T12:00:05.000Z');
  });

  it('puts only the personal digest in the leaf and the data beside it', () => {
    const salt = Buffer.alloc(32, 3);
    const plan = planAppend(
      emptyHead(),
      [event(0, { personal: { subject: 's1', data: { email: 'x@example.com' }, salt, digest: 'A'.repeat(43) + '=' } })],
      new Date(),
      ids,
    );
    expect(plan.entries[0].leaf.toString()).not.toContain('x@example.com');
    expect(plan.personal).toEqual([{ idx: 0, subject: 's1', salt, data: { email: 'x@example.com' } }]);
  });
});

describe('planAppendInTurns', () => {
  const counting = () => {
    let n = 0;
    return () => `00000000-0000-7000-8000-${(n++).toString(16).padStart(12, '0')}`;
  };

  it('plans in chunks with a turn between them, exactly what one pass plans', async () => {
    const events = Array.from({ length: 2 * PLAN_CHUNK + 7 }, (_, i) =>
      event(
        i,
        i % 3 === 0
          ? { personal: { subject: `s${i}`, data: { i }, salt: Buffer.alloc(32, i), digest: `${'A'.repeat(43)}=` } }
          : {},
      ),
    );
    const now = new Date('2026-11-27T12:00:00Z');
    const head = planAppend(emptyHead(), [event(-1)], new Date('2026-11-27T12:00:09Z'), counting()).head;
    const once = planAppend(head, events, now, counting());
    let turns = 0;
    const chunked = await planAppendInTurns(head, events, now, counting(), async () => {
      turns++;
    });
    expect(turns).toBe(2);
    expect(chunked.entries).toEqual(once.entries);
    expect(chunked.personal).toEqual(once.personal);
    expect(chunked.appended).toEqual(once.appended);
    expect(chunked.head).toEqual(once.head);
    // The clock went back: every chunk keeps the head's later time, as one pass does.
    expect(new Set(chunked.appended.map((a) => a.recordedAt))).toEqual(new Set(['2026-11-27T12:00:09.000Z']));
  });

  it('does not yield for a statement of one chunk', async () => {
    let turns = 0;
    await planAppendInTurns(emptyHead(), [event(0)], new Date(), counting(), async () => {
      turns++;
    });
    expect(turns).toBe(0);
  });
});
