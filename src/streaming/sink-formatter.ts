import { Injectable, OnApplicationShutdown } from '@nestjs/common';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { FormatReply, FormatRequest, formatFailure, withBuffers } from './sink-format-protocol';
import { DeliveryBatch, FormattedDelivery, formatDelivery } from './sink-formats';

/**
 * One worker thread that formats delivery batches, shared by every request sent to it. A thread
 * that dies (an exception outside a batch, an out-of-memory) fails what it was formatting; the
 * next batch starts a new one.
 */
export class FormatThread {
  private readonly worker: Worker;
  private next = 0;
  private readonly pending = new Map<number, { resolve: (d: FormattedDelivery) => void; reject: (e: Error) => void }>();

  constructor(script: string, onExit: () => void) {
    this.worker = new Worker(script);
    // An idle thread does not keep the process alive; a batch being formatted is awaited by the delivery anyway.
    this.worker.unref();
    this.worker.on('message', (reply: FormatReply) => {
      const waiting = this.pending.get(reply.id);
      if (waiting === undefined) return;
      this.pending.delete(reply.id);
      if ('delivery' in reply) waiting.resolve(withBuffers(reply.delivery));
      else waiting.reject(new Error(reply.failure));
    });
    this.worker.on('error', (error) => this.failAll(new Error(formatFailure(error))));
    this.worker.on('exit', (code) => {
      this.failAll(new Error(`the sink format thread exited with code ${code}`));
      onExit();
    });
  }

  format(batch: DeliveryBatch): Promise<FormattedDelivery> {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, batch } satisfies FormatRequest);
    });
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }

  private failAll(error: Error): void {
    for (const { reject } of this.pending.values()) reject(error);
    this.pending.clear();
  }
}

// A worker thread runs compiled JavaScript only. Under Jest, which runs these TypeScript sources,
// batches are formatted on the calling thread instead; the built service always uses the thread.
const ON_THREAD = __filename.endsWith('.js');
const THREAD_SCRIPT = join(__dirname, 'sink-format-thread.js');

/**
 * Turns a sink's batches into bytes (formatDelivery) on a thread of its own, started on first use.
 *
 * Parsing each leaf, mapping it to OCSF, serialising and signing the batch was about 12% of the
 * service's one thread while a sink streamed beside batch ingestion (a CPU profile of
 * bench/streaming.bench.ts), and every entry formatted there was an entry's worth of time the
 * appends did not get. On its own thread that work takes the other core's spare time; the
 * service's thread keeps the reading, the sending and the bookkeeping (docs/benchmarks.md).
 */
@Injectable()
export class SinkFormatter implements OnApplicationShutdown {
  private thread: FormatThread | undefined;

  async format(batch: DeliveryBatch): Promise<FormattedDelivery> {
    if (!ON_THREAD) {
      try {
        return formatDelivery(batch);
      } catch (error) {
        // Deliberately without the cause: its message may quote the leaf (see formatFailure), and
        // the thread can send back nothing but this text either, so both paths fail alike.
        // eslint-disable-next-line preserve-caught-error
        throw new Error(formatFailure(error));
      }
    }
    if (this.thread === undefined) {
      const thread = new FormatThread(THREAD_SCRIPT, () => {
        if (this.thread === thread) this.thread = undefined;
      });
      this.thread = thread;
    }
    return this.thread.format(batch);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.thread?.close();
    this.thread = undefined;
  }
}
