import fc from 'fast-check';
import { fromRanges, toRanges } from './erasure-journal';

describe('erasure journal index ranges', () => {
  it('packs runs of indices into inclusive ranges', () => {
    expect(toRanges([7, 1, 2, 3, 3, 9, 8])).toEqual([
      [1, 3],
      [7, 9],
    ]);
    expect(toRanges([])).toEqual([]);
  });

  it('gives back exactly the distinct indices, sorted', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 500 }), { maxLength: 200 }), (indices) => {
        expect(fromRanges(toRanges(indices))).toEqual([...new Set(indices)].sort((a, b) => a - b));
      }),
    );
  });
});
