export * from './export-format';
export * from './export-verifier';
export * from './bundle-verifier';
