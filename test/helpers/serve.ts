// Spawns a real `interslice serve` for the end-to-end and hardening tests and reads its JSON
// log lines, with helpers to wait for lines, the process's end (a fail point's SIGKILL) and its
// resident memory.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface LogLine {
  message: string;
  [k: string]: unknown;
}

export interface ServeOptions {
  /** YAML lines of the configuration (written to <work>/config-<n>.yaml). */
  config: string[];
  work: string;
  /** INTERSLICE_FAILPOINTS for this run only. */
  failpoints?: string;
  env?: NodeJS.ProcessEnv;
  /** More `serve` arguments, e.g. ['--roles', 'receive']. */
  args?: string[];
}

export interface Served {
  port: number;
  child: ChildProcess;
  logs: LogLine[];
  /** Raw stderr text (everything, including lines that are not JSON). */
  raw(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  waitFor(pred: (l: LogLine) => boolean, timeoutMs?: number, what?: string): Promise<LogLine>;
  rssMb(): number;
  stop(): Promise<void>;
}

let runs = 0;

export async function serve(o: ServeOptions): Promise<Served> {
  const cfg = join(o.work, `config-${++runs}.yaml`);
  writeFileSync(cfg, o.config.join('\n'));
  const env: NodeJS.ProcessEnv = { ...process.env, ...o.env };
  delete env.INTERSLICE_FAILPOINTS;
  if (o.failpoints) env.INTERSLICE_FAILPOINTS = o.failpoints;
  const child = spawn(process.execPath, [join(ROOT, 'bin/interslice.js'), 'serve', '--config', cfg, ...(o.args ?? [])], { stdio: ['ignore', 'pipe', 'pipe'], env });
  const logs: LogLine[] = [];
  let raw = '';
  let buf = '';
  const onData = (d: Buffer) => {
    raw += d;
    buf += d;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (!line.trim()) continue;
      try {
        logs.push(JSON.parse(line) as LogLine);
      } catch {
        logs.push({ message: `(not JSON) ${line}` });
      }
    }
  };
  child.stderr!.on('data', onData);
  child.stdout!.on('data', onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  let dead = false;
  void exited.then(() => (dead = true));
  const waitFor = async (pred: (l: LogLine) => boolean, timeoutMs = 60_000, what = 'log line') => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = logs.find(pred);
      if (hit) return hit;
      if (dead) throw new Error(`node exited while waiting for ${what}; last lines:\n${raw.slice(-3000)}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last lines:\n${raw.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const started = await waitFor((l) => l.message === 'node started', 60_000, 'node started');
  return {
    port: Number(started.port),
    child,
    logs,
    raw: () => raw,
    exited,
    waitFor,
    rssMb() {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(t);
      }
    },
  };
}

/** Polls until fn() is truthy. */
export async function until<T>(fn: () => T | Promise<T>, timeoutMs: number, what: string): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
