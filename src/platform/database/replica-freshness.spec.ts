import { parseLsn, replicaUsable, replicaVerdict } from './replica-freshness';

describe('replica freshness', () => {
  describe('parseLsn', () => {
    it('reads both halves of a WAL position, high bits first', () => {
      expect(parseLsn('0/0')).toBe(0n);
      expect(parseLsn('0/16B3748')).toBe(0x16b3748n);
      expect(parseLsn('16/B374D848')).toBe((0x16n << 32n) + 0xb374d848n);
      expect(parseLsn('FFFFFFFF/FFFFFFFF')).toBe(2n ** 64n - 1n);
    });

    it('orders positions as PostgreSQL does, not as strings do', () => {
      // As text '9/0' > '10/0' and '0/FF' > '0/100'; as positions they are the other way round.
      expect(parseLsn('10/0') > parseLsn('9/0')).toBe(true);
      expect(parseLsn('0/100') > parseLsn('0/FF')).toBe(true);
      expect(parseLsn('1/0') > parseLsn('0/FFFFFFFF')).toBe(true);
    });

    it('refuses what is not a position', () => {
      for (const bad of ['', '0', '0/', '/0', 'x/0', '0/0/0', '123456789/0', ' 0/0', '-1/0'])
        expect(() => parseLsn(bad)).toThrow('not a WAL position');
    });
  });

  describe('replicaVerdict', () => {
    it('serves from the standby once it holds what the read needs', () => {
      expect(replicaVerdict(100n, 100n, 0, 200)).toBe('replica');
      expect(replicaVerdict(100n, 250n, 500, 200)).toBe('replica');
      // Sizes (numbers) as well as positions.
      expect(replicaVerdict(12, 12, 0, 0)).toBe('replica');
    });

    it('waits for a standby behind while the budget lasts, then goes to the primary', () => {
      expect(replicaVerdict(100n, 99n, 0, 200)).toBe('wait');
      expect(replicaVerdict(100n, 99n, 199, 200)).toBe('wait');
      expect(replicaVerdict(100n, 99n, 200, 200)).toBe('primary');
      expect(replicaVerdict(13, 12, 0, 0)).toBe('primary');
    });

    it('never serves from a standby that cannot say how far it is', () => {
      expect(replicaVerdict(0n, null, 0, 200)).toBe('primary');
    });
  });

  describe('replicaUsable', () => {
    it('asks a standby that never failed, and one that failed long enough ago', () => {
      expect(replicaUsable(1_000, null, 5_000)).toBe(true);
      expect(replicaUsable(10_000, 5_000, 5_000)).toBe(true);
    });

    it('leaves a standby that failed just now alone', () => {
      expect(replicaUsable(9_999, 5_000, 5_000)).toBe(false);
    });
  });
});
