import { Socket, connect } from 'node:net';

export interface PacedResult {
  /** Requests answered 2xx per second of the run. */
  readonly rate: number;
  readonly p50: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
  /** Requests answered non-2xx (refused) or never answered. */
  readonly failed: number;
  /** Of those, the ones answered non-2xx. */
  readonly refused: number;
  /** With `timeline`: each request's due time (ms since the epoch), latency (ms) and status. */
  readonly timeline?: ReadonlyArray<readonly [number, number, number]>;
  /** Every answered 2xx request's latency, ms, sorted: to pool several runs into one percentile. */
  readonly latencies: readonly number[];
}

const HEADER_END = Buffer.from('\r\n\r\n');

/**
 * Open-loop load: POSTs `bodies` (in turn) to `url` at `rate` requests a second, spaced evenly,
 * over `connections` keep-alive connections (one request in flight on each), for `seconds`.
 * Each latency runs from the moment the request was due, not from when a connection came free,
 * so a slow answer cannot hold back the requests behind it and hide itself (coordinated
 * omission). autocannon's own rate limit sends each second's quota at once at the start of the
 * second, which times bursts. Requests are built once and answers read only for their status and
 * length: the load must cost the two shared cores no more than autocannon does.
 */
export async function pacedLoad(
  url: string,
  headers: Record<string, string>,
  bodies: readonly string[],
  options: { rate: number; connections: number; seconds: number; timeline?: boolean },
): Promise<PacedResult> {
  const target = new URL(url);
  const requests = bodies.map((body) => {
    const head = [
      `POST ${target.pathname} HTTP/1.1`,
      `host: ${target.host}`,
      ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
      `content-length: ${Buffer.byteLength(body)}`,
    ];
    return Buffer.from(`${head.join('\r\n')}\r\n\r\n${body}`);
  });
  const total = Math.round(options.rate * options.seconds);
  const latencies: number[] = [];
  let failed = 0;
  let refused = 0;
  let answered = 0;
  const timeline: Array<[number, number, number]> = [];
  let sent = 0;
  const waiting: number[] = []; // due times of requests no connection was free for
  const idle: Connection[] = [];
  const started = performance.now();
  let finish: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (finish = resolve));

  class Connection {
    private readonly socket: Socket;
    private pending: Buffer = Buffer.alloc(0);
    private due = 0;

    constructor() {
      this.socket = connect({ host: target.hostname, port: Number(target.port), noDelay: true });
      this.socket.on('data', (chunk: Buffer) => this.read(chunk));
      this.socket.on('error', () => undefined);
    }

    send(due: number, index: number): void {
      this.due = due;
      this.socket.write(requests[index % requests.length]);
    }

    close(): void {
      this.socket.destroy();
    }

    private read(chunk: Buffer): void {
      this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
      const end = this.pending.indexOf(HEADER_END);
      if (end < 0) return;
      const head = this.pending.subarray(0, end).toString('latin1');
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
      if (this.pending.length < end + 4 + length) return;
      this.pending = this.pending.subarray(end + 4 + length);
      const status = Number(head.slice(9, 12));
      const latency = performance.now() - this.due;
      if (status >= 200 && status < 300) latencies.push(latency);
      else {
        failed++;
        refused++;
      }
      if (options.timeline) timeline.push([performance.timeOrigin + this.due, latency, status]);
      answered++;
      if (answered === total) finish();
      const next = waiting.shift();
      if (next === undefined) idle.push(this);
      else this.send(next, sent++);
    }
  }

  const connections = Array.from({ length: options.connections }, () => new Connection());
  idle.push(...connections);
  for (let issued = 0; issued < total;) {
    const now = performance.now();
    // Every request due by now is issued now, each timed from its own due moment.
    const due = Math.min(total, Math.floor(((now - started) / 1000) * options.rate) + 1);
    for (; issued < due; issued++) {
      const at = started + (issued / options.rate) * 1000;
      const connection = idle.pop();
      if (connection) connection.send(at, sent++);
      else waiting.push(at);
    }
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  // An answer that never comes (a connection lost) counts as failed after a minute.
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([finished, new Promise<void>((resolve) => (timer = setTimeout(resolve, 60_000)))]);
  clearTimeout(timer);
  failed += total - answered;
  const elapsed = (performance.now() - started) / 1000;
  for (const connection of connections) connection.close();
  latencies.sort((a, b) => a - b);
  const percentile = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
  return {
    rate: latencies.length / elapsed,
    p50: percentile(0.5),
    p99: percentile(0.99),
    p999: percentile(0.999),
    max: latencies[latencies.length - 1],
    failed,
    refused,
    latencies,
    ...(options.timeline ? { timeline } : {}),
  };
}
