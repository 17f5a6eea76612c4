// Processes the benchmark drives: `interslice serve` (its JSON log lines kept with their
// timestamps), DCMTK storescp as the peer receiver / destination, DCMTK storescu as the sender.
// DCMTK tools run with TCP_NODELAY=1 (slow without it).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sleep } from './stats.js';

const BIN = fileURLToPath(new URL('../../bin/interslice.js', import.meta.url));
const dcmtkEnv = () => ({ ...process.env, TCP_NODELAY: '1' });
/** The same largest PDU for the node and storescp (DCMTK's maximum). */
export const PDU = 131072;

export interface LogLine {
  message: string;
  timestamp: string;
  [k: string]: unknown;
}

export interface Node {
  child: ChildProcess;
  port: number;
  logs: LogLine[];
  waitFor(pred: (l: LogLine) => boolean, timeoutMs: number): Promise<LogLine>;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** Starts `interslice serve` with `pipeline` (YAML flow map) and optional destination port. */
export async function startNode(work: string, pipeline: string, destinationPort?: number): Promise<Node> {
  mkdirSync(work, { recursive: true });
  const cfg = join(work, 'config.yaml');
  writeFileSync(
    cfg,
    [
      `dicom: { aeTitle: INTERSLICE, host: 127.0.0.1, port: 0, maxPduLength: ${PDU} }`,
      `storage: { dir: ${JSON.stringify(join(work, 'var'))} }`,
      `pipeline: ${pipeline}`,
      'send: { baseDelaySeconds: 1, maxDelaySeconds: 5 }',
      destinationPort ? `destinations: [ { name: pacs, aeTitle: PACS, host: 127.0.0.1, port: ${destinationPort} } ]` : 'destinations: []',
      'admin: { enabled: false }',
      'log: { level: info }',
    ].join('\n'),
  );
  const child = spawn(process.execPath, [BIN, 'serve', '--config', cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
  const logs: LogLine[] = [];
  let rest = '';
  child.stderr!.on('data', (d: Buffer) => {
    const parts = (rest + d.toString()).split('\n');
    rest = parts.pop() ?? '';
    for (const p of parts) {
      if (!p.startsWith('{')) continue;
      try {
        logs.push(JSON.parse(p) as LogLine);
      } catch {
        /* not a log line */
      }
    }
  });
  const waitFor = async (pred: (l: LogLine) => boolean, timeoutMs: number) => {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const hit = logs.find(pred);
      if (hit) return hit;
      if (child.exitCode !== null) throw new Error(`node exited (${child.exitCode}): ${logs.slice(-3).map((l) => l.message + ' ' + String(l.error ?? '')).join(' | ')}`);
      if (Date.now() > end) throw new Error('node: timed out waiting for a log line');
      await sleep(50);
    }
  };
  const started = await waitFor((l) => l.message === 'node started', 60_000);
  return {
    child,
    port: Number(started.port),
    logs,
    waitFor,
    async stop() {
      if (child.exitCode !== null) return;
      const done = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([done, sleep(10_000)]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

export interface Storescp {
  port: number;
  dir: string;
  stop(): Promise<void>;
}

export async function startStorescp(dir: string, aet = 'PACS'): Promise<Storescp> {
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const child = spawn('storescp', ['-aet', aet, '-pdu', String(PDU), '-od', dir, String(port)], { env: dcmtkEnv(), stdio: 'ignore' });
  // Ready when it accepts a TCP connection.
  const end = Date.now() + 10_000;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) break;
    if (Date.now() > end) throw new Error('storescp did not start');
    await sleep(50);
  }
  return {
    port,
    dir,
    async stop() {
      const done = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([done, sleep(5000)]);
    },
  };
}

/** Pushes a folder with storescu; resolves with the wall time in seconds. */
export function storescu(port: number, dir: string, calledAe: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn('storescu', ['-aet', 'STORESCU', '-aec', calledAe, '+sd', '-nh', '127.0.0.1', String(port), dir], { env: dcmtkEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      const s = Number(process.hrtime.bigint() - t0) / 1e9;
      if (code === 0) resolve(s);
      else reject(new Error(`storescu exit ${code}: ${err.slice(-500)}`));
    });
  });
}
