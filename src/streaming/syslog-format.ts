/**
 * Syslog messages of RFC 5424, framed by octet counting (RFC 6587 §3.4.1, the framing RFC 5425
 * requires over TLS). Pure: bytes in, bytes out.
 */

/** Facility 13 (log audit), severity 6 (informational): PRI = 13 × 8 + 6. */
export const SYSLOG_PRI = 110;
/** The SD-ID of our structured data: `name@<private enterprise number>`; 32473 is the number RFC 5612 reserves for examples. */
export const SD_ID = 'audit@32473';

/** An SD-PARAM value with `"`, `\` and `]` escaped (RFC 5424 §6.3.3). */
export function escapeSdValue(value: string): string {
  return value.replace(/["\\\]]/g, (c) => `\\${c}`);
}

/** A header field: printable US-ASCII (33–126) only, at most `max` characters, `-` when empty. */
export function headerField(value: string, max: number): string {
  const clean = value.replace(/[^\x21-\x7e]/g, '_').slice(0, max);
  return clean === '' ? '-' : clean;
}

export interface SyslogMessage {
  /** RFC 3339 with fractions, in UTC. */
  readonly timestamp: string;
  readonly hostname: string;
  readonly appName: string;
  readonly msgId: string;
  /** SD-PARAMs of the one SD-ELEMENT `SD_ID`; names are ASCII without `=`, space, `]`, `"`. */
  readonly params: ReadonlyArray<readonly [string, string]>;
  /** The MSG: UTF-8, sent after a BOM as RFC 5424 asks for UTF-8 messages. */
  readonly message: string;
}

/** The RFC 5424 message bytes: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD BOM MSG`. */
export function formatSyslog(m: SyslogMessage): Buffer {
  const sd =
    m.params.length === 0
      ? '-'
      : `[${SD_ID}${m.params.map(([name, value]) => ` ${headerField(name, 32)}="${escapeSdValue(value)}"`).join('')}]`;
  const header = `<${SYSLOG_PRI}>1 ${headerField(m.timestamp, 64)} ${headerField(m.hostname, 255)} ${headerField(m.appName, 48)} - ${headerField(m.msgId, 32)} ${sd} `;
  return Buffer.concat([Buffer.from(header, 'utf8'), Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(m.message, 'utf8')]);
}

/** Octet-counting framing: `MSG-LEN SP SYSLOG-MSG`, MSG-LEN the message's length in bytes. */
export function frameOctetCounted(message: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${message.length} `, 'ascii'), message]);
}

/** Splits octet-counted frames; the rest is an incomplete frame (for receivers and tests). */
export function parseOctetCounted(bytes: Buffer): { frames: Buffer[]; rest: Buffer } {
  const frames: Buffer[] = [];
  let at = 0;
  for (;;) {
    const space = bytes.indexOf(0x20, at);
    if (space < 0 || space - at > 10) break;
    const length = Number(bytes.subarray(at, space).toString('ascii'));
    if (!Number.isSafeInteger(length) || length <= 0) throw new Error('not an octet-counted frame');
    if (space + 1 + length > bytes.length) break;
    frames.push(bytes.subarray(space + 1, space + 1 + length));
    at = space + 1 + length;
  }
  return { frames, rest: bytes.subarray(at) };
}
