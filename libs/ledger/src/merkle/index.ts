export * from './merkle.errors';
export * from './node-id';
export * from './proofs';
export * from './tree-builder';
export * from './tree-math';
export * from './verify';
