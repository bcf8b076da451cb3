import { hmacSha256Hex, signWebhook, signedContent, verifyWebhookSignature } from './webhook-signature';

describe('webhook signatures', () => {
  const secret = 'whsec-0123456789abcdef0123456789abcdef';
  const body = '{"v":1,"id":"x"}';

  it('computes HMAC-SHA256 as RFC 4231 test case 2 says', () => {
    expect(hmacSha256Hex('Jefe', 'what do ya want for nothing?')).toBe(
      '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    );
  });

  it('signs "<timestamp>.<body>" and writes sha256=<hex>', () => {
    expect(signedContent(1700000000, body).toString('utf8')).toBe(`1700000000.${body}`);
    // Vector computed independently: printf '%s' '1700000000.{"v":1,"id":"x"}' | openssl dgst -sha256 -hmac <secret>
    expect(signWebhook(secret, 1700000000, body)).toBe(
      'sha256=7e1d5ed77090ab3e3f62ea32c665ee050599cbc85f71bdee01fae4cb33c3dfec',
    );
    expect(signWebhook(secret, 1700000000, Buffer.from(body))).toBe(signWebhook(secret, 1700000000, body));
    expect(() => signWebhook(secret, 1.5, body)).toThrow(RangeError);
  });

  it('verifies its own header round trip and refuses anything altered or stale', () => {
    const header = signWebhook(secret, 1700000000, body);
    expect(verifyWebhookSignature(secret, '1700000000', body, header, 1700000000, 300)).toBe(true);
    expect(verifyWebhookSignature(secret, '1700000000', Buffer.from(body), header, 1700000299, 300)).toBe(true);
    expect(verifyWebhookSignature(secret, '1700000000', body, header, 1699999701, 300)).toBe(true);
    expect(verifyWebhookSignature(secret, '1700000000', body, header, 1700000301, 300)).toBe(false); // replayed too late
    expect(verifyWebhookSignature(secret, '1700000001', body, header, 1700000000, 300)).toBe(false); // timestamp changed
    expect(verifyWebhookSignature(secret, '1700000000', body.replace('x', 'y'), header, 1700000000, 300)).toBe(false);
    expect(verifyWebhookSignature(`${secret}!`, '1700000000', body, header, 1700000000, 300)).toBe(false);
    expect(verifyWebhookSignature(secret, '1700000000', body, header.toUpperCase(), 1700000000, 300)).toBe(false);
    expect(verifyWebhookSignature(secret, '1700000000', body, header.slice(0, -2), 1700000000, 300)).toBe(false);
    expect(verifyWebhookSignature(secret, '1700000000', body, undefined, 1700000000, 300)).toBe(false);
    expect(verifyWebhookSignature(secret, undefined, body, header, 1700000000, 300)).toBe(false);
    expect(verifyWebhookSignature(secret, '-1', body, header, 1700000000, 300)).toBe(false);
  });
});
