export type { EntryBundleCoord, ParsedTilePath, TileCoord } from './tile-path';
export {
  FULL_TILE_BYTES,
  MAX_TILE_LEVEL,
  TILE_HEIGHT,
  TILE_WIDTH,
  assembleTile,
  entryBundleLeafRange,
  entryBundleServableForSize,
  entryBundlesForTreeSize,
  formatEntryBundlePath,
  formatTilePath,
  parseTilePath,
  splitTile,
  tileLevelSize,
  tileNodeIds,
  tileServableForSize,
  tilesForTreeSize,
} from './tile-path';
export { decodeEntryBundle, encodeEntryBundle } from './entry-bundle';
export { EntryBundleError, TileDataError, TilePathError } from './tile.errors';
