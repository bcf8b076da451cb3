import { Duplex } from 'node:stream';

/**
 * A RELP client (the Reliable Event Logging Protocol of rsyslog's librelp, `imrelp`): one session
 * per batch, `open`, one `syslog` command per message, `close`. Every frame is
 * `TXNR SP COMMAND SP DATALEN [SP DATA] LF`; the receiver answers each command with
 * `TXNR rsp DATALEN SP 200 OK…` once it took the message, and only that answer makes a message
 * delivered. Transport-free: it runs over any duplex stream (a socket, a TLS socket, a test pair).
 */

/** Transaction numbers run 1…999 999 999 and wrap to 1; 0 is the receiver's own (hints such as `serverclose`). */
export const RELP_MAX_TXNR = 999_999_999;
/** Commands sent before their answers come back (librelp's default window). */
export const RELP_WINDOW = 128;
/** What the client offers in `open`: protocol version 0, the `syslog` command. */
export const RELP_OFFERS = 'relp_version=0\nrelp_software=audit-trail\ncommands=syslog';

/** A DATALEN above this is no frame we would accept (a syslog message of 128 KiB and then some). */
const MAX_DATALEN = 1 << 20;

export interface RelpFrame {
  readonly txnr: number;
  readonly command: string;
  readonly data: Buffer;
}

/** The transaction number after `txnr`. */
export function nextTxnr(txnr: number): number {
  return txnr >= RELP_MAX_TXNR ? 1 : txnr + 1;
}

/** One frame's bytes; no SP after DATALEN when there is no data. */
export function relpFrame(txnr: number, command: string, data: Buffer = Buffer.alloc(0)): Buffer {
  const header = `${txnr} ${command} ${data.length}`;
  return data.length === 0
    ? Buffer.from(`${header}\n`, 'ascii')
    : Buffer.concat([Buffer.from(`${header} `, 'ascii'), data, Buffer.from('\n', 'ascii')]);
}

/** A malformed frame or an answer the protocol does not allow. */
export class RelpProtocolError extends Error {
  readonly code = 'RELP_PROTOCOL';
}

/** Splits received bytes into frames; keeps an incomplete frame for the next `push`. */
export class RelpFrameReader {
  private buffered = Buffer.alloc(0);

  push(bytes: Buffer): RelpFrame[] {
    this.buffered = Buffer.concat([this.buffered, bytes]);
    const frames: RelpFrame[] = [];
    for (;;) {
      const header = /^(\d{1,9}) ([a-zA-Z]{1,32}) (\d{1,9})([ \n])/.exec(
        this.buffered.subarray(0, 64).toString('latin1'),
      );
      if (header === null) {
        if (
          this.buffered.length >= 64 ||
          !/^\d{0,9}( [a-zA-Z]{0,32}( \d{0,9})?)?$/.test(this.buffered.toString('latin1'))
        )
          throw new RelpProtocolError('malformed RELP frame header');
        return frames;
      }
      const [head, txnr, command, datalen, separator] = header;
      const length = Number(datalen);
      if (length > MAX_DATALEN) throw new RelpProtocolError('RELP frame too large');
      if (length === 0 && separator !== '\n') throw new RelpProtocolError('RELP frame without trailer');
      if (length > 0 && separator !== ' ') throw new RelpProtocolError('RELP frame shorter than its DATALEN');
      const end = length === 0 ? head.length : head.length + length + 1;
      if (this.buffered.length < end) return frames;
      if (length > 0 && this.buffered[end - 1] !== 0x0a) throw new RelpProtocolError('RELP frame without trailer');
      frames.push({ txnr: Number(txnr), command, data: this.buffered.subarray(head.length, head.length + length) });
      this.buffered = this.buffered.subarray(end);
    }
  }
}

/** The status of an `rsp`: `200 OK` means taken; its first line only (an `open` answer carries offers after it). */
export function rspStatus(data: Buffer): { code: number; ok: boolean } {
  const code = Number(/^(\d{3})(?: |\n|$)/.exec(data.toString('latin1'))?.[1] ?? NaN);
  return { code, ok: code === 200 };
}

/**
 * The session ended before every message was acknowledged: the first `acknowledged` messages
 * were taken by the receiver (each answered 200), the rest are not known to be.
 */
export class RelpUnacknowledgedError extends Error {
  constructor(
    readonly acknowledged: number,
    readonly code: string,
  ) {
    super(`RELP: ${acknowledged} message(s) acknowledged before ${code}`);
  }
}

/**
 * Sends `messages` (RFC 5424 messages, one per `syslog` command) over `socket`, at most
 * `RELP_WINDOW` unanswered at a time. Resolves once every message was answered 200 (then it
 * closes the session; a failure of the close loses nothing). Rejects with
 * `RelpUnacknowledgedError` otherwise, saying how many messages, in order from the first, were
 * acknowledged: a refusal, a broken connection, a `serverclose` hint or `timeoutMs` ends it.
 */
export function relpSession(socket: Duplex, messages: readonly Buffer[], timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const reader = new RelpFrameReader();
    /** txnr → what it stands for: -1 the open, -2 the close, else the message's position. */
    const pending = new Map<number, number>();
    const answered: boolean[] = messages.map(() => false);
    let txnr = 0;
    let opened = false;
    let acknowledged = 0;
    let nextMessage = 0;
    let done = false;

    const finish = (code: string | null) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.removeListener('data', onData);
      socket.destroy();
      if (acknowledged === messages.length) resolve();
      else reject(new RelpUnacknowledgedError(acknowledged, code ?? 'RELP_CLOSED'));
    };
    const timer = setTimeout(() => finish('ETIMEDOUT'), timeoutMs);
    const send = (command: string, stands: number, data?: Buffer) => {
      txnr = nextTxnr(txnr);
      pending.set(txnr, stands);
      socket.write(relpFrame(txnr, command, data));
    };
    const fill = () => {
      while (nextMessage < messages.length && pending.size < RELP_WINDOW) {
        send('syslog', nextMessage, messages[nextMessage]);
        nextMessage++;
      }
      if (acknowledged === messages.length && !pending.has(txnr)) send('close', -2);
    };
    const onData = (bytes: Buffer) => {
      let frames: RelpFrame[];
      try {
        frames = reader.push(bytes);
      } catch (error) {
        return finish((error as RelpProtocolError).code);
      }
      for (const frame of frames) {
        if (frame.txnr === 0 && frame.command === 'serverclose') return finish('RELP_SERVERCLOSE');
        const stands = pending.get(frame.txnr);
        if (frame.command !== 'rsp' || stands === undefined) return finish('RELP_PROTOCOL');
        pending.delete(frame.txnr);
        if (stands === -2) return finish(null);
        const status = rspStatus(frame.data);
        if (!status.ok) return finish(stands === -1 ? 'RELP_OPEN_REFUSED' : `RELP_${status.code || 'REFUSED'}`);
        if (stands === -1) {
          if (!/^commands=(?:.*,)?syslog(?:,|$)/m.test(frame.data.toString('latin1')))
            return finish('RELP_NO_SYSLOG_COMMAND');
          opened = true;
        } else {
          answered[stands] = true;
          while (acknowledged < messages.length && answered[acknowledged]) acknowledged++;
        }
      }
      if (opened) fill();
    };
    socket.on('data', onData);
    socket.once('error', (error: NodeJS.ErrnoException) => finish(error.code ?? 'RELP_CLOSED'));
    socket.once('close', () => finish('RELP_CLOSED'));
    send('open', -1, Buffer.from(RELP_OFFERS, 'ascii'));
  });
}
