import { classifyStatementFailure, describeRefusal } from './statement-failure';

describe('classifyStatementFailure', () => {
  it.each([
    ['23505', 'stale'],
    ['40001', 'stale'],
    ['40P01', 'stale'],
    ['22P05', 'request_data'], // U+0000 in jsonb
    ['22021', 'request_data'], // U+0000 in text
    ['22001', 'request_data'],
    ['23514', 'request_data'], // check constraint
    ['23502', 'request_data'],
    ['23503', 'request_data'],
    ['P0001', 'request_data'], // a trigger's RAISE EXCEPTION
    ['54000', 'request_data'],
    ['54001', 'request_data'],
    ['08006', 'other'], // connection failure
    ['57P01', 'other'], // admin shutdown
    ['57014', 'other'], // statement timeout: the statement's size, not one request's data
    ['53300', 'other'],
    ['42P01', 'other'], // a bug in the service's SQL must not be blamed on a request
    ['XX000', 'other'],
  ])('SQLSTATE %s is %s', (code, expected) => {
    expect(classifyStatementFailure(Object.assign(new Error('x'), { code }))).toBe(expected);
  });

  it("takes no Node error code or code-less error for a request's fault", () => {
    expect(classifyStatementFailure(Object.assign(new Error('x'), { code: 'ECONNRESET' }))).toBe('other');
    expect(classifyStatementFailure(new Error('Connection terminated unexpectedly'))).toBe('other');
    expect(classifyStatementFailure(undefined)).toBe('other');
  });
});

describe('describeRefusal', () => {
  it('names the SQLSTATE, the message and the constraint, never the detail', () => {
    const error = Object.assign(new Error('new row for relation "entries" violates check constraint "entries_small"'), {
      code: '23514',
      table: 'entries',
      constraint: 'entries_small',
      detail: 'Failing row contains (acme, 3, alice@example.com)',
    });
    const text = describeRefusal(error);
    expect(text).toBe(
      'the database refused this entry (SQLSTATE 23514): new row for relation "entries" violates check constraint "entries_small"',
    );
    expect(text).not.toContain('alice');
  });

  it('replaces a quoted value that is not a name the error reports', () => {
    const error = Object.assign(new Error('invalid input syntax for type uuid: "alice@example.com"'), {
      code: '22P02',
    });
    expect(describeRefusal(error)).toBe(
      'the database refused this entry (SQLSTATE 22P02): invalid input syntax for type uuid: "…"',
    );
  });

  it('adds the constraint when the message does not name it', () => {
    const error = Object.assign(new Error('refused'), { code: '23P01', constraint: 'no_overlap' });
    expect(describeRefusal(error)).toBe(
      'the database refused this entry (SQLSTATE 23P01): refused (constraint "no_overlap")',
    );
  });
});
