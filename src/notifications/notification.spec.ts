import { InvalidNotificationError, Notification, notificationPayload } from './notification';

describe('notificationPayload', () => {
  const placed: Notification = {
    type: 'hold.placed',
    id: '0190f7a0-1234-7abc-8def-0123456789ab',
    tenant: 'acme',
    at: '2025-01-02T03:04:05.678Z',
    subjectRef: { type: 'hold', id: 'hold_1' },
    ledger: { log: 'acme', index: 7 },
  };

  it('copies the known members in a fixed order, with a format version', () => {
    expect(JSON.stringify(notificationPayload(placed))).toBe(
      '{"v":1,"type":"hold.placed","id":"0190f7a0-1234-7abc-8def-0123456789ab","tenant":"acme","at":"2025-01-02T03:04:05.678Z","subjectRef":{"type":"hold","id":"hold_1"},"ledger":{"log":"acme","index":7}}',
    );
    const { ledger: _, ...noLedger } = placed;
    expect(notificationPayload({ ...noLedger, tenant: '*' })).not.toHaveProperty('ledger');
  });

  it('drops members it does not know, so nothing else can leak out', () => {
    const sneaky = {
      ...placed,
      email: 'someone@example.com',
      subjectRef: { ...placed.subjectRef, name: 'Someone' },
    } as Notification;
    expect(JSON.stringify(notificationPayload(sneaky))).not.toMatch(/someone/i);
  });

  it('names every bad member', () => {
    const bad = {
      type: 'hold.exploded',
      id: '12345',
      tenant: 'Acme Corp',
      at: 'yesterday',
      subjectRef: { type: 'Hold', id: '' },
      ledger: { log: 'acme', index: -1 },
    };
    expect.assertions(2);
    try {
      notificationPayload(bad as unknown as Notification);
    } catch (e) {
      expect(e).toBeInstanceOf(InvalidNotificationError);
      expect((e as InvalidNotificationError).problems.map((p) => p.split(' ')[0])).toEqual([
        'type',
        'id',
        'tenant',
        'at',
        'subjectRef',
        'ledger',
      ]);
    }
  });

  it('refuses ids BullMQ cannot use as job ids', () => {
    for (const id of ['', 'a:b', '42', 'x'.repeat(201), 'with space']) {
      expect(() => notificationPayload({ ...placed, id })).toThrow(/id must be/);
    }
  });
});
