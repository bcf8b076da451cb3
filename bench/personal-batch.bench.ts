import autocannon from 'autocannon';
import { createHash, randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { BenchFigure } from './report';

// Batches whose every event carries personal data (an email and an IP address), against raw
// multi-row INSERTs of the rows the service stores for them: the entry, and its personal-data row
// with the data and the salt sealed (AES-256-GCM: IV, ciphertext, tag) at the service's sizes.

/** A support ticket opened by a person: ~5,000 distinct subjects, each with an email and an IP. */
export function personalEvent(tenant: string, i: number) {
  const subject = `person-${i % 5000}`;
  return {
    tenant,
    type: 'support.ticket.opened',
    actor: { type: 'user', id: `usr_${i % 977}` },
    outcome: 'success',
    occurredAt: '2026-11-27T12:00:00.000Z',
    personal: {
      subject,
      data: { email: `${subject}@example.com`, ip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` },
    },
  };
}

function batchBody(tenant: string, from: number): string {
  return JSON.stringify({ events: Array.from({ length: 500 }, (_, i) => personalEvent(tenant, from + i)) });
}

/** Events/s of raw multi-row INSERTs (500 a statement) of entry rows plus their personal-data rows. */
async function rawPersonalRows(db: string, rows: number): Promise<number> {
  const client = new Client({ connectionString: db });
  client.on('error', () => undefined);
  await client.connect();
  try {
    // The service's own tables' columns, keys and indexes (not their rows, triggers or policies).
    await client.query('CREATE TABLE bare_personal_entries (LIKE entries INCLUDING ALL)');
    await client.query('CREATE TABLE bare_personal_rows (LIKE personal_data INCLUDING ALL)');
    const sample = personalEvent('raw', 12345);
    // A leaf as large as the service's: the event, its place in the log, the subject and a digest.
    const leaf = Buffer.from(
      JSON.stringify({
        v: 1,
        log: 'raw',
        index: 12345,
        prev: 'p'.repeat(44),
        id: '00000000-0000-7000-8000-000000000000',
        recordedAt: sample.occurredAt,
        source: 'bench',
        ...sample,
        category: 'support',
        personal: { subject: sample.personal.subject, digest: 'd'.repeat(44) },
      }),
    );
    const sealedData = randomBytes(12 + Buffer.byteLength(JSON.stringify(sample.personal.data)) + 16);
    const sealedSalt = randomBytes(12 + 32 + 16);
    const start = process.hrtime.bigint();
    for (let from = 0; from < rows; from += 500) {
      const idx = Array.from({ length: Math.min(500, rows - from) }, (_, k) => from + k);
      await client.query(
        `WITH e AS (
           INSERT INTO bare_personal_entries (log, idx, id, recorded_at, prev, leaf_hash, tree_nodes, leaf)
           SELECT 'raw', * FROM unnest($1::bigint[], $2::uuid[], $3::timestamptz[], $4::bytea[], $5::bytea[], $6::bytea[], $7::bytea[])
         )
         INSERT INTO bare_personal_rows (log, idx, subject, salt, data, sealed)
         SELECT 'raw', i, s, $9::bytea, $10::bytea, true FROM unnest($1::bigint[], $8::text[]) AS p(i, s)`,
        [
          idx,
          idx.map((i) => `00000000-0000-7000-8000-${i.toString(16).padStart(12, '0')}`),
          idx.map(() => new Date().toISOString()),
          idx.map((i) => createHash('sha256').update(`p${i}`).digest()),
          idx.map((i) => createHash('sha256').update(`r${i}`).digest()),
          idx.map(() => Buffer.alloc(32)),
          idx.map(() => leaf),
          idx.map((i) => `person-${i % 5000}`),
          sealedSalt,
          sealedData,
        ],
      );
    }
    return rows / (Number(process.hrtime.bigint() - start) / 1e9);
  } finally {
    await client.end();
  }
}

/** The personal-data batch figure and its raw baseline, run on the service's database `db`. */
export async function personalBatchBench(
  url: string,
  headers: Record<string, string>,
  db: string,
  quick: boolean,
  log: (line: string) => void,
): Promise<BenchFigure[]> {
  const events = quick ? 10_000 : 100_000;
  log(
    `raw baseline: ${events.toLocaleString('en-US')} entry rows plus personal-data rows, sealed, in multi-row INSERTs of 500`,
  );
  const raw = await rawPersonalRows(db, events);
  log(`service: ${events.toLocaleString('en-US')} events with personal data, batches of 500, 4 connections`);
  const bodies = Array.from({ length: 10 }, (_, k) => batchBody('personal', k * 500));
  let sent = 0;
  const t0 = Date.now();
  const result = await new Promise<autocannon.Result>((resolve, reject) =>
    autocannon(
      {
        url: `${url}/v1/events/batch`,
        method: 'POST',
        headers,
        connections: 4,
        amount: events / 500,
        timeout: 60,
        requests: [{ setupRequest: (req) => ({ ...req, body: bodies[sent++ % bodies.length] }) }],
      },
      (err, r) => (err ? reject(err) : resolve(r)),
    ),
  );
  if (result.non2xx > 0 || result.errors > 0)
    throw new Error(`personal-data batches failed: ${result.non2xx} non-2xx, ${result.errors} errors`);
  const rate = (result.requests.total * 500) / ((Date.now() - t0) / 1000);
  return [
    {
      name: 'acknowledged appends with personal data (email + IP each), batches of 500, one log',
      value: rate,
      unit: 'events/s',
      baseline: { name: 'raw multi-row INSERTs of the entry + sealed personal-data rows', value: raw },
      target: { kind: 'min-ratio', value: 0.6 },
    },
  ];
}
