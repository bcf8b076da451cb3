/**
 * When a data-subject request must be answered: one calendar month after it was received (GDPR
 * Art. 12(3)), read as the same day of the next month, or that month's last day when it has no
 * such day (31 January → 28 or 29 February). In UTC, time of day kept. Pure.
 */
export function dueDateOf(receivedAt: Date): Date {
  const year = receivedAt.getUTCFullYear();
  const month = receivedAt.getUTCMonth() + 1;
  // Day 0 of the month after next is the last day of next month.
  const lastDay = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
  const due = new Date(receivedAt.getTime());
  due.setUTCDate(1);
  due.setUTCFullYear(year, month, Math.min(receivedAt.getUTCDate(), lastDay));
  return due;
}

/** Whether a request due at `dueAt` is overdue at `now`: past its due date and not completed. */
export function isOverdue(dueAt: string, completed: boolean, now: Date): boolean {
  return !completed && now.getTime() > Date.parse(dueAt);
}
