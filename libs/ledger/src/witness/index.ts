// C2SP witnessing: cosignature/v1 (tlog-cosignature), policies (tlog-policy), proofs (tlog-proof).
export {
  PolicyFormatError,
  QuorumNotMetError,
  TlogProofFormatError,
  WitnessRequestFormatError,
} from './witness.errors';
export {
  MAX_CONSISTENCY_PROOF_LINES,
  formatAddCheckpointRequest,
  parseAddCheckpointRequest,
  type AddCheckpointRequest,
} from './add-checkpoint';
export {
  COSIGNATURE_BYTES,
  COSIGNATURE_V1_ALG,
  MAX_COSIGNATURE_TIMESTAMP,
  cosignatureKeyHash,
  cosignedMessage,
  generateCosignerKey,
  parseCosignatureVerifierKey,
  parseCosignerKey,
  verifyCosignatureLine,
  type CosignatureVerifier,
  type Cosigner,
  type VerifiedCosignature,
} from './cosignature';
export {
  MAX_POLICY_GROUPS,
  MAX_POLICY_LOGS,
  MAX_POLICY_WITNESSES,
  parseWitnessPolicy,
  policyLogsFor,
  quorumMet,
  type PolicyLog,
  type PolicyWitness,
  type QuorumRule,
  type WitnessPolicy,
} from './policy';
export {
  TLOG_PROOF_HEADER,
  formatTlogProof,
  openCheckpointWithPolicy,
  parseTlogProof,
  verifyTlogProof,
  type PolicyCheckedCheckpoint,
  type TlogProof,
} from './tlog-proof';
