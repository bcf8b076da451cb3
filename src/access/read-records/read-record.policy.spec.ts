import { READ_ROUTES, parseReadRecordSwitches } from '../../platform';
import { recordedFilters, shouldRecord } from './read-record.policy';

describe('read record policy', () => {
  it('records every read by default', () => {
    const { switches, problems } = parseReadRecordSwitches(undefined);
    expect(problems).toEqual([]);
    for (const route of READ_ROUTES) expect(shouldRecord(switches, route, 0.999999)).toBe(true);
  });

  it('turns routes and groups off, on or to a sample; later items win', () => {
    const { switches, problems } = parseReadRecordSwitches('logs.*=0.25, logs.verify=on, logs.key=off');
    expect(problems).toEqual([]);
    expect(shouldRecord(switches, 'logs.verify', 0.9)).toBe(true);
    expect(shouldRecord(switches, 'logs.key', 0)).toBe(false);
    expect(shouldRecord(switches, 'logs.tile', 0.2)).toBe(true);
    expect(shouldRecord(switches, 'logs.tile', 0.25)).toBe(false);
    expect(parseReadRecordSwitches('*=off').switches.get('logs.entries')).toBe(0);
  });

  it('names every bad item', () => {
    const { problems } = parseReadRecordSwitches('logs.tile=sometimes,events.everything=on,logs.key=1.5,logs.verify');
    expect(problems).toHaveLength(4);
    expect(problems[0]).toContain('"logs.tile=sometimes"');
    expect(problems[1]).toContain('unknown route "events.everything"');
  });

  it('keeps filters bounded and personal ones apart', () => {
    const { filters, personal } = recordedFilters(
      { tenant: 'acme', subject: 'user-42', size: 'x'.repeat(500), tags: ['a', 'b'] },
      ['subject'],
    );
    expect(personal).toEqual({ subject: 'user-42' });
    expect(filters.tenant).toBe('acme');
    expect(filters.size).toHaveLength(200);
    expect(filters.tags).toBe('a,b');
    expect(
      Object.keys(
        recordedFilters(Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`f${i}`, 'v'])), []).filters,
      ),
    ).toHaveLength(20);
  });

  it('keeps an empty personal filter as a plain one: it identifies nobody, and personal data needs a subject', () => {
    // Found by the API fuzz: `?subject=` made a record with an empty subject, which the ledger
    // refuses, so the read was refused as unrecordable (503) instead of answered.
    expect(recordedFilters({ tenant: 'acme', subject: '' }, ['subject'])).toEqual({
      filters: { tenant: 'acme', subject: '' },
      personal: {},
    });
  });

  it('records a withheld filter without its value, even a repeated or malformed one', () => {
    expect(
      recordedFilters(
        { tenant: 'acme', personalEmail: 'Ada@Example.com', personalIp: ['10.0.0.1', '10.0.0.2'], subject: 'u-1' },
        ['subject'],
        ['personalEmail', 'personalIp'],
      ),
    ).toEqual({
      filters: { tenant: 'acme', personalEmail: '[personal]', personalIp: '[personal]' },
      personal: { subject: 'u-1' },
    });
  });
});
