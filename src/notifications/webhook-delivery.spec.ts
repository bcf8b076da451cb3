import { deliveryVerdict } from './webhook-delivery';

describe('deliveryVerdict', () => {
  it('counts every 2xx as delivered', () => {
    for (const status of [200, 201, 202, 204, 299]) expect(deliveryVerdict(status)).toBe('delivered');
  });

  it('gives up only on answers that refuse the body itself', () => {
    for (const status of [400, 410, 413, 415, 422]) expect(deliveryVerdict(status)).toBe('refused');
  });

  it('retries everything else, redirects and throttling included', () => {
    for (const status of [100, 301, 302, 401, 403, 404, 408, 409, 425, 429, 500, 502, 503, 504])
      expect(deliveryVerdict(status)).toBe('retry');
  });
});
