/**
 * Published (in process, after commit) when a policy changed. A shorter minimum may free work a
 * deletion left blocked; listeners must not be the only path for that: deletion work is also
 * reconciled periodically.
 */
export class RetentionPolicyChangedEvent {
  constructor(
    readonly category: string,
    readonly minDaysBefore: number,
    readonly minDaysAfter: number,
  ) {}
}
