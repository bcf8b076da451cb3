import autocannon from 'autocannon';
import { createHash, randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { BenchFigure } from './report';

// Batches whose every event carries personal data (an email and an IP address), against raw
// multi-row INSERTs of the rows the service stores for them: the entry, and its personal-data row
// with the data and the salt sealed (AES-256-GCM: IV, ciphertext, tag) at the service's sizes;
// and, labelled beside it, the same with the rows the service writes to find them again (keyed
// hashes, the search read model).

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

/**
 * Events/s of raw multi-row INSERTs (500 a statement) of entry rows plus their personal-data rows.
 * With `indexRows`, each event's other rows too: its two keyed hashes (email, IP) in a copy of
 * `personal_search` and its search read-model row in a copy of `event_search`, which the service
 * also writes for it (the hashes with the entry, the search row by the projector after commit).
 */
async function rawPersonalRows(db: string, rows: number, indexRows: boolean): Promise<number> {
  const client = new Client({ connectionString: db });
  client.on('error', () => undefined);
  await client.connect();
  const t = indexRows ? 'bare_all' : 'bare_personal';
  try {
    // The service's own tables' columns, keys and indexes (not their rows, triggers or policies).
    await client.query(`CREATE TABLE ${t}_entries (LIKE entries INCLUDING ALL)`);
    await client.query(`CREATE TABLE ${t}_rows (LIKE personal_data INCLUDING ALL)`);
    if (indexRows) {
      await client.query(`CREATE TABLE ${t}_hashes (LIKE personal_search INCLUDING ALL)`);
      await client.query(`CREATE TABLE ${t}_search (LIKE event_search INCLUDING ALL)`);
    }
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
    const indexRowsSql = indexRows
      ? `, h AS (
           INSERT INTO ${t}_hashes (log, idx, field, hmac, recorded_at)
           SELECT 'raw', i, f, substring($11::bytea FROM (n::int - 1) * 32 + 1 FOR 32), now()
           FROM unnest($12::bigint[], $13::text[]) WITH ORDINALITY AS x(i, f, n)
         ), s AS (
           INSERT INTO ${t}_search
           SELECT 'raw', i, id, now(), 'bench', 'support.ticket.opened', 'support', 'user', a, NULL, NULL, 'success', sub
           FROM unnest($1::bigint[], $2::uuid[], $14::text[], $8::text[]) AS r(i, id, a, sub)
         )`
      : '';
    const start = process.hrtime.bigint();
    for (let from = 0; from < rows; from += 500) {
      const idx = Array.from({ length: Math.min(500, rows - from) }, (_, k) => from + k);
      const params: unknown[] = [
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
      ];
      if (indexRows) {
        // One hash of the subject's email (5,000 distinct) and one of the event's IP, as random
        // in their indexes as the service's keyed hashes.
        params.push(
          Buffer.concat(
            idx.flatMap((i) => [
              createHash('sha256')
                .update(`e${i % 5000}`)
                .digest(),
              createHash('sha256').update(`i${i}`).digest(),
            ]),
          ),
          idx.flatMap((i) => [i, i]),
          idx.flatMap(() => ['email', 'ip']),
          idx.map((i) => `usr_${i % 977}`),
        );
      }
      await client.query(
        `WITH e AS (
           INSERT INTO ${t}_entries (log, idx, id, recorded_at, prev, leaf_hash, tree_nodes, leaf)
           SELECT 'raw', * FROM unnest($1::bigint[], $2::uuid[], $3::timestamptz[], $4::bytea[], $5::bytea[], $6::bytea[], $7::bytea[])
         )${indexRowsSql}
         INSERT INTO ${t}_rows (log, idx, subject, salt, data, sealed)
         SELECT 'raw', i, s, $9::bytea, $10::bytea, true FROM unnest($1::bigint[], $8::text[]) AS p(i, s)`,
        params,
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
  const raw = await rawPersonalRows(db, events, false);
  log(
    `raw baseline: the same with each event's keyed hashes (email, IP) and search read-model row, in multi-row INSERTs of 500`,
  );
  const rawEveryRow = await rawPersonalRows(db, events, true);
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
    {
      name: 'the same batches, against a baseline that writes every row the service writes for them',
      value: rate,
      unit: 'events/s',
      baseline: {
        name: 'raw multi-row INSERTs of the entry, sealed personal, keyed-hash and search rows',
        value: rawEveryRow,
      },
    },
  ];
}
