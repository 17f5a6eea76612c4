// Real DICOM peers for tests: DCMTK storescp / storescu / echoscu spawned with TCP_NODELAY=1
// (without it DCMTK is ~10x slower on loopback). Run tests inside a private network namespace
// (the npm test script does) so storescp, which binds all addresses, collides with nothing.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';

/** ../shared from the repository root, resolved from this file's location. */
export const SHARED_DIR = fileURLToPath(new URL('../../../shared/', import.meta.url));
export const MR_DIR = `${SHARED_DIR}data/mr/`;

export function dcmtkEnv(): NodeJS.ProcessEnv {
  return { ...process.env, TCP_NODELAY: '1' };
}

export interface ToolResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a tool to completion (killed after timeoutMs) and returns its exit code and output. */
export function runTool(cmd: string, args: string[], timeoutMs = 60_000): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: dcmtkEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export interface ScuOptions {
  callingAe?: string;
  calledAe?: string;
  /** Extra DCMTK options, e.g. ['-xi'] to propose Implicit VR only. */
  args?: string[];
  timeoutMs?: number;
}

/** storescu: sends files (or directories, scanned) to host:port. */
export function storescu(host: string, port: number, paths: string[], o: ScuOptions = {}): Promise<ToolResult> {
  const args = ['-aet', o.callingAe ?? 'STORESCU', '-aec', o.calledAe ?? 'INTERSLICE', '+sd', '-nh', ...(o.args ?? []), host, String(port), ...paths];
  return runTool('storescu', args, o.timeoutMs);
}

/** echoscu: one C-ECHO. */
export function echoscu(host: string, port: number, o: ScuOptions = {}): Promise<ToolResult> {
  const args = ['-aet', o.callingAe ?? 'ECHOSCU', '-aec', o.calledAe ?? 'INTERSLICE', ...(o.args ?? []), host, String(port)];
  return runTool('echoscu', args, o.timeoutMs);
}

/** A free TCP port on 127.0.0.1 (ephemeral; released before it is returned). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Resolves once something accepts TCP connections on host:port. */
export async function waitForPort(port: number, host = '127.0.0.1', timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host, port }, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${host}:${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface Storescp {
  port: number;
  outDir: string;
  process: ChildProcess;
  /** Output so far (for assertions and failure messages). */
  output(): string;
  stop(): Promise<void>;
}

/** storescp writing what it receives to outDir; port 0 or omitted picks a free one. */
export async function startStorescp(outDir: string, o: { aeTitle?: string; port?: number; args?: string[] } = {}): Promise<Storescp> {
  const port = o.port || (await freePort());
  const child = spawn('storescp', ['-aet', o.aeTitle ?? 'PACS', '-od', outDir, ...(o.args ?? []), String(port)], {
    env: dcmtkEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await Promise.race([waitForPort(port), exited.then(() => Promise.reject(new Error(`storescp exited: ${out}`)))]);
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
  return {
    port,
    outDir,
    process: child,
    output: () => out,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}

/** The dataset bytes of a Part-10 file: everything after the File Meta Information group. */
export function datasetBytes(path: string): Buffer {
  const buf = readFileSync(path);
  if (buf.toString('latin1', 128, 132) !== 'DICM') throw new Error(`${path}: not a Part-10 file`);
  // (0002,0000) UL group length is the first meta element: tag(4) VR(2) len(2) value(4).
  if (buf.readUInt16LE(132) !== 0x0002 || buf.readUInt16LE(134) !== 0x0000) throw new Error(`${path}: no group length`);
  return buf.subarray(144 + buf.readUInt32LE(140));
}
