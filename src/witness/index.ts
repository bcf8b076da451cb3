/** The public face of the witness context: what other contexts and the composition root may use. */
export { CosignedCheckpoints } from './cosigned-checkpoints';
export type { CosignedCheckpoint } from './cosigned-checkpoints';
export { NoQuorumCheckpointError } from './witness.errors';
export { WitnessModule } from './witness.module';
