import fc from 'fast-check';
import { escapeSdValue, formatSyslog, frameOctetCounted, headerField, parseOctetCounted } from './syslog-format';

describe('RFC 5424 messages', () => {
  it('escapes ", \\ and ] in SD-PARAM values (RFC 5424 §6.3.3)', () => {
    expect(escapeSdValue('a"b\\c]d')).toBe('a\\"b\\\\c\\]d');
    expect(escapeSdValue('plain [x]=1')).toBe('plain [x\\]=1');
  });

  it('keeps header fields printable ASCII, bounded, "-" when empty', () => {
    expect(headerField('auth.login.succeeded', 32)).toBe('auth.login.succeeded');
    expect(headerField('a b\u00e9', 32)).toBe('a_b_');
    expect(headerField('x'.repeat(40), 32)).toHaveLength(32);
    expect(headerField('', 32)).toBe('-');
  });

  it('formats header, structured data, BOM and message as RFC 5424 lays them out', () => {
    const bytes = formatSyslog({
      timestamp: '2026-01-02T03:04:05.678Z',
      hostname: 'audit.example',
      appName: 'audit-trail',
      msgId: 'auth.logout',
      params: [
        ['log', 'acme'],
        ['index', '7'],
      ],
      message: '{"a":"é"}',
    });
    const header =
      '<110>1 2026-01-02T03:04:05.678Z audit.example audit-trail - auth.logout [audit@32473 log="acme" index="7"] ';
    expect(bytes.subarray(0, Buffer.byteLength(header)).toString('utf8')).toBe(header);
    expect([...bytes.subarray(Buffer.byteLength(header), Buffer.byteLength(header) + 3)]).toEqual([0xef, 0xbb, 0xbf]);
    expect(bytes.subarray(Buffer.byteLength(header) + 3).toString('utf8')).toBe('{"a":"é"}');
  });
});

describe('octet-counting framing (RFC 6587 §3.4.1, RFC 5425)', () => {
  it('prefixes the length in bytes, not characters', () => {
    expect(frameOctetCounted(Buffer.from('é', 'utf8')).toString('utf8')).toBe('2 é');
  });

  it('frames and splits back any messages, however the bytes are cut', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { maxLength: 20 }),
        fc.nat(),
        (messages, cut) => {
          const stream = Buffer.concat(messages.map((m) => frameOctetCounted(Buffer.from(m))));
          const at = stream.length === 0 ? 0 : cut % (stream.length + 1);
          const first = parseOctetCounted(stream.subarray(0, at));
          const second = parseOctetCounted(Buffer.concat([first.rest, stream.subarray(at)]));
          expect([...first.frames, ...second.frames].map((f) => Buffer.from(f).toString('hex'))).toEqual(
            messages.map((m) => Buffer.from(m).toString('hex')),
          );
          expect(second.rest).toHaveLength(0);
        },
      ),
    );
  });
});
