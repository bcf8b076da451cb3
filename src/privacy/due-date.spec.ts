import { dueDateOf, isOverdue } from './due-date';

const due = (iso: string) => dueDateOf(new Date(iso)).toISOString();

describe('due date of a subject request (one calendar month, GDPR Art. 12(3))', () => {
  it('is the same day of the next month', () => {
    expect(due('2026-03-15T09:30:00.000Z')).toBe('2026-04-15T09:30:00.000Z');
    expect(due('2026-12-03T20:00:00.000Z')).toBe('2027-01-03T20:00:00.000Z');
  });

  it("is clamped to the next month's last day", () => {
    expect(due('2026-01-31T10:00:00.000Z')).toBe('2026-02-28T10:00:00.000Z');
    expect(due('2028-01-31T10:00:00.000Z')).toBe('2028-02-29T10:00:00.000Z');
    expect(due('2028-01-30T10:00:00.000Z')).toBe('2028-02-29T10:00:00.000Z');
    expect(due('2026-03-31T23:59:59.999Z')).toBe('2026-04-30T23:59:59.999Z');
    expect(due('2026-08-31T00:00:00.000Z')).toBe('2026-09-30T00:00:00.000Z');
  });

  it('is overdue only past the due date and while not completed', () => {
    const dueAt = '2026-02-28T10:00:00.000Z';
    expect(isOverdue(dueAt, false, new Date('2026-02-28T10:00:00.000Z'))).toBe(false);
    expect(isOverdue(dueAt, false, new Date('2026-02-28T10:00:00.001Z'))).toBe(true);
    expect(isOverdue(dueAt, true, new Date('2026-03-28T10:00:00.000Z'))).toBe(false);
  });
});
