/**
 * Published (in process, after commit) when a hold is released. Listeners must not be the only
 * path for anything that has to survive a crash: deletion work is also reconciled periodically.
 */
export class HoldReleased {
  constructor(
    readonly holdId: string,
    readonly tenant: string,
  ) {}
}
