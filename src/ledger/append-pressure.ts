import { Injectable } from '@nestjs/common';

/**
 * Appends in flight in this process (statements the sequencer has started and not settled), in
 * memory a worker thread shares (a SharedArrayBuffer): background work on another thread, a full
 * verification, reads it between small steps and waits while appends are committing, so their
 * database backends get the cores first (bench/long-work.bench.ts, docs/benchmarks.md "Long work").
 * It sees this process's appends only: where the sequencer runs in another process, a
 * verification here never waits.
 */
@Injectable()
export class AppendPressure {
  /** [0]: appends in flight; [1]: appends begun, ever (wrapping), to tell a busy moment from an idle one. */
  readonly shared = new Int32Array(new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT));

  begin(): void {
    Atomics.add(this.shared, 0, 1);
    Atomics.add(this.shared, 1, 1);
  }

  end(): void {
    Atomics.sub(this.shared, 0, 1);
  }
}
