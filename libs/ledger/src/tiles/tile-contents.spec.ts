import fc from 'fast-check';
import { leafHash, nodeHash } from '../hashing';
import { StoredNode, TreeBuilder } from '../merkle';
import { assembleTile, splitTile, tileNodeIds, tilesForTreeSize, TILE_HEIGHT } from './index';

// Tiles served from stored nodes must equal tiles cut from the whole tree, computed from the
// leaves by the RFC 6962 definition, for every tile of every tree size.
function perfectSubtreeHash(leaves: Buffer[], level: number, index: number): Buffer {
  if (level === 0) return leaves[index];
  return nodeHash(
    perfectSubtreeHash(leaves, level - 1, 2 * index),
    perfectSubtreeHash(leaves, level - 1, 2 * index + 1),
  );
}

describe('hash tiles from stored nodes', () => {
  const size = 70_000;
  const leaves = Array.from({ length: size }, (_, i) => leafHash(Buffer.from(`entry ${i}`)));
  const stored = new Map<string, Buffer>();
  const builder = TreeBuilder.empty();
  const completed: StoredNode[] = [];
  for (const h of leaves) builder.append(h, completed);
  for (const n of completed) stored.set(`${n.level}/${n.index}`, n.hash);

  it('equal the tiles of the full tree, for every tile of random tree sizes', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: size }), (treeSize) => {
        // Level 0 has hundreds of tiles; check the last few there, and every tile above.
        const tiles = tilesForTreeSize(treeSize).filter(
          (t, _i, all) => t.level > 0 || t.index >= all.filter((u) => u.level === 0).length - 3,
        );
        for (const tile of tiles) {
          const ids = tileNodeIds(tile);
          const fromStore = assembleTile(
            ids.map((id) => stored.get(`${id.level}/${id.index}`) as Buffer),
            tile.width,
          );
          const fromTree = Buffer.concat(
            ids.map((id) => perfectSubtreeHash(leaves, TILE_HEIGHT * tile.level, id.index)),
          );
          expect(fromStore.equals(fromTree)).toBe(true);
          expect(splitTile(fromStore, tile.width)).toHaveLength(tile.width);
        }
      }),
      { numRuns: 25 },
    );
  });

  it('stores every node a tile of the largest tree names', () => {
    for (const tile of tilesForTreeSize(size).filter((t) => t.level > 0)) {
      for (const id of tileNodeIds(tile)) expect(stored.has(`${id.level}/${id.index}`)).toBe(true);
    }
    // 70,000 leaves: 273 full level-0 tiles and one of 112; level 1 holds 273 hashes; level 2 one.
    const byLevel = tilesForTreeSize(size).reduce<Record<number, number>>(
      (acc, t) => ({ ...acc, [t.level]: (acc[t.level] ?? 0) + t.width }),
      {},
    );
    expect(byLevel).toEqual({ 0: 70_000, 1: 273, 2: 1 });
  });
});
