/** The queue of the ledger's periodic maintenance (checking the checkpoint mirror). */
export const MAINTENANCE_QUEUE = 'ledger-maintenance';
export const MIRROR_CHECK_JOB = 'check-mirror';
export const MIRROR_CHECK_EVERY_MS = 60_000;
