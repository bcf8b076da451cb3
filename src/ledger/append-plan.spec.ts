import { EMPTY_ROOT, LogVerifier, TreeBuilder, decodeLeaf, leafHash } from '@audit/ledger';
import { sampleKey } from '../../libs/ledger/testdata/sample-log';
import { EventToAppend, planAppend } from './append-plan';
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
