import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FormatThread, SinkFormatter } from './sink-formatter';
import { DeliveryBatch } from './sink-formats';

// A stand-in thread speaking the formatter's protocol (sink-format-protocol.ts): the first leaf
// says what to do. The real thread (sink-format-thread.ts) runs in the built service only; the
// benchmark smoke run (`npm run bench -- --quick`) and the syslog drill deliver through it.
const SCRIPT = `
const { parentPort } = require('node:worker_threads');
parentPort.on('message', ({ id, batch }) => {
  const what = batch.leaves[0];
  if (what === 'exit') process.exit(3);
  if (what === 'fail') return parentPort.postMessage({ id, failure: 'a batch could not be formatted (SyntaxError)' });
  const reply = () => parentPort.postMessage({
    id,
    delivery: { indices: [id], payload: { transport: 'http', batch: { body: Buffer.from(what), headers: {} } } },
  });
  if (what === 'slow') setTimeout(reply, 200); else reply();
});
`;

const batch = (first: string): DeliveryBatch => ({
  kind: 'ndjson',
  relp: false,
  leaves: [first],
  leafHashes: [''],
  personal: null,
  categories: null,
  types: null,
  checkpoint: '',
  secret: '',
  now: 0,
  host: 'audit.example',
});

describe('the sink format thread', () => {
  let dir: string;
  let script: string;
  const threads: FormatThread[] = [];
  const start = (onExit: () => void = () => undefined) => {
    const thread = new FormatThread(script, onExit);
    threads.push(thread);
    return thread;
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sink-format-thread-'));
    script = join(dir, 'thread.js');
    writeFileSync(script, SCRIPT);
  });
  afterEach(async () => {
    await Promise.all(threads.splice(0).map((t) => t.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers each batch with its own result, whatever order the thread answers in', async () => {
    const thread = start();
    const [slow, quick] = await Promise.all([thread.format(batch('slow')), thread.format(batch('quick'))]);
    expect(slow.indices).toEqual([0]);
    expect(quick.indices).toEqual([1]);
    // The bytes come back as a Buffer, as the transports expect.
    if (quick.payload.transport !== 'http') throw new Error(quick.payload.transport);
    expect(Buffer.isBuffer(quick.payload.batch.body)).toBe(true);
    expect(quick.payload.batch.body.toString()).toBe('quick');
  });

  it('fails only the batch that could not be formatted', async () => {
    const thread = start();
    await expect(thread.format(batch('fail'))).rejects.toThrow('a batch could not be formatted (SyntaxError)');
    await expect(thread.format(batch('after'))).resolves.toMatchObject({ indices: [1] });
  });

  it('fails every batch under way when the thread dies, and says so', async () => {
    let exited = false;
    const thread = start(() => {
      exited = true;
    });
    const pending = thread.format(batch('slow'));
    const dying = thread.format(batch('exit'));
    await expect(pending).rejects.toThrow('the sink format thread exited with code 3');
    await expect(dying).rejects.toThrow('exited');
    expect(exited).toBe(true);
  });
});

describe('the sink formatter on the calling thread (as under Jest)', () => {
  it('refuses a leaf it cannot parse without quoting it', async () => {
    const failure = new SinkFormatter().format(batch('{"actor":{"id":"alice@example.com"'));
    await expect(failure).rejects.toThrow('a batch could not be formatted (SyntaxError)');
    await expect(failure).rejects.not.toThrow(/alice/);
  });
});
