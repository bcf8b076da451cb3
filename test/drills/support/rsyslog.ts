import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './service-process';

/** Debian's rsyslog daemon (`apt-get install rsyslog`; TLS needs `rsyslog-gnutls`, RELP `rsyslog-relp`). */
const RSYSLOGD = ['/usr/sbin/rsyslogd', '/sbin/rsyslogd'].find((p) => existsSync(p)) ?? 'rsyslogd';

/** One message rsyslog wrote out: the structured data our sinks send (`[audit@32473 log=… index=… id=…]`). */
export interface ReceivedSyslog {
  readonly log: string;
  readonly index: number;
  readonly id: string;
}

/**
 * An rsyslogd of a drill's own, in the foreground (`-n`) with its own configuration, pid file and
 * work directory: `imtcp` on 127.0.0.1 at a free port (octet-counted framing, which imtcp
 * recognises by the leading digits), over TLS (`gtls`, anonymous clients, a test certificate for
 * 127.0.0.1) when `tls`; or, when `relp`, `imrelp` (RELP over TCP) with a direct main
 * queue, so that its acknowledgement of a message comes after the message was written out. Every
 * message's structured data is written to a file, a line each.
 */
export interface RsyslogReceiver {
  readonly url: string;
  /** The CA (PEM file) a client must trust for `tls://`; undefined for TCP. */
  readonly caFile: string | undefined;
  received(): ReceivedSyslog[];
  start(): Promise<void>;
  /** SIGTERM, and waits for the end (rsyslog writes out what it took first). */
  stop(): Promise<void>;
  /** SIGSTOP: the kernel still accepts connections and bytes for it, nothing reads or answers them. */
  freeze(): void;
  /** SIGKILL, and waits for the end: whatever it took and did not write out is gone. */
  kill(): Promise<void>;
  /** Stops it and removes its directory. */
  close(): Promise<void>;
}

/** A self-signed certificate for 127.0.0.1 (its own CA), made with the openssl command line. */
function testCertificate(dir: string): { cert: string; key: string } {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { stdio: 'ignore' },
  );
  return { cert, key };
}

/** The configuration lines of the input: imtcp (syslog over TCP or TLS) or imrelp. */
function inputConfig(port: number, certificate: { cert: string; key: string } | undefined, relp: boolean): string[] {
  if (relp)
    return [
      'main_queue(queue.type="Direct")',
      'module(load="imrelp")',
      `input(type="imrelp" address="127.0.0.1" port="${port}")`,
    ];
  return [
    certificate
      ? 'module(load="imtcp" streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon")'
      : 'module(load="imtcp")',
    `input(type="imtcp" address="127.0.0.1" port="${port}" supportOctetCountedFraming="on")`,
  ];
}

/** `relp` (RELP over TCP) and `tls` (syslog over TLS) exclude each other. */
export async function startRsyslog(options: { tls?: boolean; relp?: boolean } = {}): Promise<RsyslogReceiver> {
  const dir = mkdtempSync(join(tmpdir(), 'drill-rsyslog-'));
  const work = join(dir, 'work');
  mkdirSync(work);
  const out = join(dir, 'received.log');
  const conf = join(dir, 'rsyslog.conf');
  const pidFile = join(dir, 'rsyslogd.pid');
  const port = await freePort();
  const certificate = options.tls ? testCertificate(dir) : undefined;
  writeFileSync(
    conf,
    [
      certificate
        ? `global(workDirectory="${work}" defaultNetstreamDriver="gtls" defaultNetstreamDriverCAFile="${certificate.cert}"` +
          ` defaultNetstreamDriverCertFile="${certificate.cert}" defaultNetstreamDriverKeyFile="${certificate.key}")`
        : `global(workDirectory="${work}")`,
      ...inputConfig(port, certificate, options.relp === true),
      'template(name="sd" type="string" string="%structured-data%\\n")',
      `action(type="omfile" file="${out}" template="sd")`,
      '',
    ].join('\n'),
  );
  let child: ChildProcess | undefined;
  let output = '';
  const receiver: RsyslogReceiver = {
    url: `${options.relp ? 'relp' : certificate ? 'tls' : 'tcp'}://127.0.0.1:${port}`,
    caFile: certificate?.cert,
    received() {
      if (!existsSync(out)) return [];
      return readFileSync(out, 'utf8')
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => {
          const param = (name: string) => new RegExp(`${name}="([^"]*)"`).exec(line)?.[1];
          return { log: param('log') as string, index: Number(param('index')), id: param('id') as string };
        });
    },
    async start() {
      output = '';
      const started = spawn(RSYSLOGD, ['-n', '-f', conf, '-i', pidFile], { stdio: ['ignore', 'pipe', 'pipe'] });
      started.stdout?.on('data', (b: Buffer) => (output += b.toString()));
      started.stderr?.on('data', (b: Buffer) => (output += b.toString()));
      child = started;
      // Listening once a connection is taken.
      const until = Date.now() + 15_000;
      for (;;) {
        if (started.exitCode !== null) throw new Error(`rsyslogd exited with ${started.exitCode}:\n${output}`);
        const { connect } = await import('node:net');
        const up = await new Promise<boolean>((ok) => {
          const socket = connect({ host: '127.0.0.1', port }, () => {
            socket.destroy();
            ok(true);
          });
          socket.once('error', () => ok(false));
        });
        if (up) return;
        if (Date.now() > until) throw new Error(`rsyslogd did not listen on ${port} within 15 s:\n${output}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop() {
      const running = child;
      child = undefined;
      if (!running || running.exitCode !== null || running.signalCode !== null) return;
      const exited = new Promise((ok) => running.once('exit', ok));
      running.kill('SIGTERM');
      running.kill('SIGCONT'); // a frozen one ends too
      await exited;
    },
    freeze() {
      child?.kill('SIGSTOP');
    },
    async kill() {
      const running = child;
      child = undefined;
      if (!running || running.exitCode !== null || running.signalCode !== null) return;
      const exited = new Promise((ok) => running.once('exit', ok));
      running.kill('SIGKILL');
      await exited;
    },
    async close() {
      await receiver.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await receiver.start();
  return receiver;
}
