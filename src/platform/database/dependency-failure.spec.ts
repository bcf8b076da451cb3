import { QueryFailedError } from 'typeorm';
import { isConnectionFailure } from './dependency-failure';

function withCode(code: string, message = 'failed'): Error {
  return Object.assign(new Error(message), { code });
}

describe('isConnectionFailure', () => {
  it.each(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN'])(
    'counts the socket error %s',
    (code) => {
      expect(isConnectionFailure(withCode(code, `connect ${code} 127.0.0.1:5432`))).toBe(true);
    },
  );

  it.each(['08000', '08001', '08003', '08006', '08P01', '57P01', '57P02', '57P03', '53300'])(
    'counts SQLSTATE %s',
    (code) => {
      expect(isConnectionFailure(withCode(code))).toBe(true);
    },
  );

  it.each([
    'Connection terminated unexpectedly',
    'Connection terminated due to connection timeout',
    'Connection terminated',
    'timeout exceeded when trying to connect',
    'Client has encountered a connection error and is not queryable',
    'Client was closed and is not queryable',
  ])('counts what pg says without a code: %s', (message) => {
    expect(isConnectionFailure(new Error(message))).toBe(true);
  });

  it('looks inside TypeORM, cause and AggregateError wrappers', () => {
    expect(
      isConnectionFailure(new QueryFailedError('SELECT 1', [], new Error('Connection terminated unexpectedly'))),
    ).toBe(true);
    expect(
      isConnectionFailure(
        new QueryFailedError('SELECT 1', [], withCode('57P01', 'terminating connection due to administrator command')),
      ),
    ).toBe(true);
    expect(isConnectionFailure(new Error('query failed', { cause: withCode('ECONNRESET') }))).toBe(true);
    expect(isConnectionFailure(new AggregateError([withCode('ECONNREFUSED'), withCode('ECONNREFUSED')]))).toBe(true);
  });

  it.each([
    ['a unique violation', withCode('23505', 'duplicate key value violates unique constraint')],
    ['a syntax error', withCode('42601')],
    ['invalid text (U+0000)', withCode('22P05', 'unsupported Unicode escape sequence')],
    ['a serialization failure', withCode('40001')],
    ['an insufficient privilege', withCode('42501')],
    ['a query canceled by statement_timeout', withCode('57014')],
    ['a dropped database', withCode('57P04')],
    ['a service error code', withCode('unavailable')],
    ['a TypeORM data error', new QueryFailedError('INSERT', [], withCode('22001', 'value too long'))],
    ['a plain bug', new TypeError("Cannot read properties of undefined (reading 'id')")],
    ['a message that only mentions a connection', new Error('the connection pool is configured wrongly')],
  ])('does not count %s', (_, error) => {
    expect(isConnectionFailure(error)).toBe(false);
  });

  it('does not count values that are not errors, and stops on a cycle', () => {
    for (const value of [undefined, null, 'ECONNREFUSED', 42, {}]) expect(isConnectionFailure(value)).toBe(false);
    const cyclic: { message: string; cause?: unknown } = { message: 'outer' };
    cyclic.cause = cyclic;
    expect(isConnectionFailure(cyclic)).toBe(false);
  });
});
