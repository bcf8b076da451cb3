-- @audit/client: the transactional outbox, in the emitter's own database. Run once, as the
-- emitter's migration owner (idempotent). The emitter's runtime role needs SELECT, INSERT and
-- DELETE on audit_outbox and audit_outbox_dead, and USAGE on their sequence.
CREATE TABLE IF NOT EXISTS audit_outbox (
  id bigserial PRIMARY KEY,
  idempotency_key uuid NOT NULL UNIQUE,
  event jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS audit_outbox_dead (
  id bigint PRIMARY KEY,
  idempotency_key uuid NOT NULL UNIQUE,
  event jsonb NOT NULL,
  status integer NOT NULL,
  answer jsonb,
  created_at timestamptz NOT NULL,
  failed_at timestamptz NOT NULL DEFAULT now()
);
