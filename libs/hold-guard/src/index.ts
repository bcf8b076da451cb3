export * from './hold-check.client';
export * from './hold-check.errors';
export * from './hold-guard';
