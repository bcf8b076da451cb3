import { Duplex } from 'node:stream';
import {
  RELP_OFFERS,
  RELP_WINDOW,
  RelpFrame,
  RelpFrameReader,
  RelpProtocolError,
  RelpUnacknowledgedError,
  nextTxnr,
  relpFrame,
  relpSession,
  rspStatus,
} from './relp';
import { positionAfter } from './sink-delivery';

const text = (frames: RelpFrame[]) => frames.map((f) => `${f.txnr} ${f.command} ${f.data.toString('latin1')}`);

/**
 * The client's end of a fake socket pair: what the client writes goes, frame by frame, to
 * `receive` (the fake receiver), which answers through `answer` or breaks the connection.
 */
function fakeSocket(receive: (frame: RelpFrame, peer: { answer(bytes: string): void; broken(): void }) => void) {
  const reader = new RelpFrameReader();
  const seen: RelpFrame[] = [];
  const socket: Duplex = new Duplex({
    read() {},
    write(chunk: Buffer, _encoding, done) {
      for (const frame of reader.push(chunk)) {
        seen.push(frame);
        receive(frame, {
          answer: (bytes) => setImmediate(() => socket.push(Buffer.from(bytes, 'latin1'))),
          broken: () => setImmediate(() => socket.destroy()),
        });
      }
      done();
    },
  });
  return { socket, seen };
}

/** A receiver that answers `open` with its offers and every other command 200, except as `refuse` says. */
function receiver(refuse: (frame: RelpFrame) => 'break' | 'silent' | string | null = () => null) {
  return fakeSocket((frame, peer) => {
    const how = refuse(frame);
    if (how === 'break') return peer.broken();
    if (how === 'silent') return;
    if (how !== null) return peer.answer(`${frame.txnr} rsp ${how.length} ${how}\n`);
    if (frame.command === 'open') {
      const offers = `200 OK\nrelp_version=0\nrelp_software=librelp,1.11.0\ncommands=syslog`;
      return peer.answer(`${frame.txnr} rsp ${offers.length} ${offers}\n`);
    }
    if (frame.command === 'close') return peer.answer(`${frame.txnr} rsp 0\n`);
    peer.answer(`${frame.txnr} rsp 6 200 OK\n`);
  });
}

const messages = (n: number) => Array.from({ length: n }, (_, i) => Buffer.from(`<110>1 - - - - - - message ${i}`));

async function failure(session: Promise<void>): Promise<RelpUnacknowledgedError> {
  const error = await session.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof RelpUnacknowledgedError)) throw new Error(`expected RelpUnacknowledgedError, got ${error}`);
  return error;
}

describe('RELP frames', () => {
  it('lays out TXNR SP COMMAND SP DATALEN SP DATA LF, and no SP without data', () => {
    expect(relpFrame(1, 'open', Buffer.from(RELP_OFFERS)).toString()).toBe(
      `1 open ${RELP_OFFERS.length} relp_version=0\nrelp_software=audit-trail\ncommands=syslog\n`,
    );
    expect(relpFrame(2, 'syslog', Buffer.from('<110>1 é')).toString('latin1')).toBe(
      `2 syslog 9 ${Buffer.from('<110>1 é').toString('latin1')}\n`,
    );
    expect(relpFrame(3, 'close').toString()).toBe('3 close 0\n');
  });

  it('numbers transactions from 1 to 999999999, then wraps to 1 (0 is the receiver’s)', () => {
    expect(nextTxnr(0)).toBe(1);
    expect(nextTxnr(41)).toBe(42);
    expect(nextTxnr(999_999_998)).toBe(999_999_999);
    expect(nextTxnr(999_999_999)).toBe(1);
  });

  it('reads frames split anywhere and several in one chunk, data with LF inside included', () => {
    const bytes = Buffer.from('1 rsp 37 200 OK\nrelp_version=0\ncommands=syslog\n2 rsp 6 200 OK\n0 serverclose 0\n');
    const reader = new RelpFrameReader();
    const frames = [...bytes].flatMap((b) => reader.push(Buffer.from([b])));
    expect(text(frames)).toEqual(['1 rsp 200 OK\nrelp_version=0\ncommands=syslog', '2 rsp 200 OK', '0 serverclose ']);
    expect(text(new RelpFrameReader().push(bytes))).toEqual(text(frames));
  });

  it('refuses what is not a frame: no header, no trailer, a DATALEN that does not fit', () => {
    expect(() => new RelpFrameReader().push(Buffer.from('HTTP/1.1 400 Bad Request\r\n'))).toThrow(RelpProtocolError);
    expect(() => new RelpFrameReader().push(Buffer.from('1 rsp 6 200 OKX'))).toThrow(RelpProtocolError);
    expect(() => new RelpFrameReader().push(Buffer.from('1 rsp 0 200 OK\n'))).toThrow(RelpProtocolError);
    expect(() => new RelpFrameReader().push(Buffer.from('1 rsp 9999999 '))).toThrow(RelpProtocolError);
  });

  it('reads the status of an answer from its first line', () => {
    expect(rspStatus(Buffer.from('200 OK'))).toEqual({ code: 200, ok: true });
    expect(rspStatus(Buffer.from('200 OK\ncommands=syslog'))).toEqual({ code: 200, ok: true });
    expect(rspStatus(Buffer.from('500 error'))).toEqual({ code: 500, ok: false });
    expect(rspStatus(Buffer.from('')).ok).toBe(false);
  });
});

describe('a RELP session', () => {
  it('opens with its offers, sends one syslog command per message, closes after the last answer', async () => {
    const { socket, seen } = receiver();
    await relpSession(socket, messages(3), 1_000);
    expect(text(seen)).toEqual([
      `1 open ${RELP_OFFERS}`,
      '2 syslog <110>1 - - - - - - message 0',
      '3 syslog <110>1 - - - - - - message 1',
      '4 syslog <110>1 - - - - - - message 2',
      '5 close ',
    ]);
    expect(socket.destroyed).toBe(true);
  });

  it('counts as delivered only what was answered 200, when the connection breaks after three', async () => {
    const { socket } = receiver((frame) => (frame.txnr === 5 ? 'break' : null));
    const error = await failure(relpSession(socket, messages(5), 1_000));
    expect(error.acknowledged).toBe(3);
  });

  it('keeps the acknowledged ones and no more when the answers stop (a timeout)', async () => {
    const { socket } = receiver((frame) => (frame.txnr >= 4 ? 'silent' : null));
    const error = await failure(relpSession(socket, messages(6), 200));
    expect(error).toMatchObject({ acknowledged: 2, code: 'ETIMEDOUT' });
  });

  it('stops at a refusal: the messages before it are acknowledged, the refused one is not', async () => {
    const { socket } = receiver((frame) => (frame.txnr === 4 ? '500 queue full' : null));
    const error = await failure(relpSession(socket, messages(5), 1_000));
    expect(error).toMatchObject({ acknowledged: 2, code: 'RELP_500' });
  });

  it('acknowledges only a prefix: an answer out of order does not cover the ones before it', async () => {
    const { socket } = fakeSocket((frame, peer) => {
      if (frame.command === 'open') peer.answer(`1 rsp 22 200 OK\ncommands=syslog\n`);
      if (frame.txnr === 2) peer.answer('2 rsp 6 200 OK\n');
      if (frame.txnr === 4) peer.answer('4 rsp 6 200 OK\n');
      if (frame.txnr === 4) peer.broken();
    });
    const error = await failure(relpSession(socket, messages(3), 1_000));
    expect(error.acknowledged).toBe(1);
  });

  it('ends at the receiver’s serverclose hint with what was answered before it', async () => {
    const { socket } = fakeSocket((frame, peer) => {
      if (frame.command === 'open') peer.answer(`1 rsp 22 200 OK\ncommands=syslog\n`);
      if (frame.txnr === 2) peer.answer('2 rsp 6 200 OK\n0 serverclose 0\n');
    });
    const error = await failure(relpSession(socket, messages(4), 1_000));
    expect(error).toMatchObject({ acknowledged: 1, code: 'RELP_SERVERCLOSE' });
  });

  it('sends nothing to a receiver that refuses the session or does not offer syslog', async () => {
    const refused = receiver((frame) => (frame.command === 'open' ? '500 busy' : null));
    expect(await failure(relpSession(refused.socket, messages(2), 1_000))).toMatchObject({
      acknowledged: 0,
      code: 'RELP_OPEN_REFUSED',
    });
    expect(refused.seen.map((f) => f.command)).toEqual(['open']);
    const { socket, seen } = fakeSocket((frame, peer) => peer.answer(`${frame.txnr} rsp 21 200 OK\ncommands=other\n`));
    expect(await failure(relpSession(socket, messages(2), 1_000))).toMatchObject({
      acknowledged: 0,
      code: 'RELP_NO_SYSLOG_COMMAND',
    });
    expect(seen.map((f) => f.command)).toEqual(['open']);
  });

  it(`keeps at most ${RELP_WINDOW} messages unanswered`, async () => {
    const { socket, seen } = receiver((frame) => (frame.command === 'syslog' ? 'silent' : null));
    await failure(relpSession(socket, messages(RELP_WINDOW + 50), 200));
    expect(seen.filter((f) => f.command === 'syslog')).toHaveLength(RELP_WINDOW);
  });
});

describe('the position after a RELP batch', () => {
  // Entries 10, 12 and 15 of [10, 20) passed the sink's filters.
  const entries = [10, 12, 15];

  it('moves past exactly the acknowledged entries, to the first not acknowledged', () => {
    expect(positionAfter(entries, 0, 20)).toBe(10);
    expect(positionAfter(entries, 2, 20)).toBe(15);
  });

  it('moves to the end of the batch when every entry was acknowledged', () => {
    expect(positionAfter(entries, 3, 20)).toBe(20);
    expect(positionAfter([], 0, 20)).toBe(20);
  });
});
