// Debian's Orthanc as a real PACS for tests: one process per call on a folder of its own
// (storage and index), loopback only, optionally with the DICOMweb plugin and HTTP basic auth.
// Starting it again on the same folder and ports is a PACS restart.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dcmtkEnv, freePort, waitForPort } from './peers.js';

/** Where Debian's orthanc-dicomweb puts the plugin. */
export const DICOMWEB_PLUGIN = '/usr/share/orthanc/plugins/libOrthancDicomWeb.so';
export const haveDicomWebPlugin = () => existsSync(DICOMWEB_PLUGIN);

export interface OrthancOptions {
  /** Its folder: orthanc.json and db/ (storage and index). */
  dir: string;
  dicomPort: number;
  /** Default: a free port. */
  httpPort?: number;
  /** DicomModalities, e.g. { interslice: { AET, Host, Port } }. */
  modalities?: Record<string, { AET: string; Host: string; Port: number }>;
  luaScripts?: string[];
  /** Loads the DICOMweb plugin (root /dicom-web/). */
  dicomWeb?: boolean;
  /** HTTP basic auth users; none = authentication off. */
  users?: Record<string, string>;
}

export interface Orthanc {
  http: string;
  httpPort: number;
  dicomPort: number;
  output(): string;
  /** SIGKILL, as a crash or a pulled plug would. */
  kill(): Promise<void>;
  stop(): Promise<void>;
}

export async function startOrthanc(o: OrthancOptions): Promise<Orthanc> {
  const httpPort = o.httpPort ?? (await freePort());
  mkdirSync(join(o.dir, 'db'), { recursive: true });
  const cfg = {
    Name: 'test PACS',
    DicomAet: 'ORTHANC',
    DicomPort: o.dicomPort,
    HttpPort: httpPort,
    RemoteAccessAllowed: false,
    AuthenticationEnabled: !!o.users,
    ...(o.users ? { RegisteredUsers: o.users } : {}),
    StorageDirectory: join(o.dir, 'db'),
    IndexDirectory: join(o.dir, 'db'),
    StableAge: 2,
    DicomModalities: o.modalities ?? {},
    LuaScripts: o.luaScripts ?? [],
    Plugins: o.dicomWeb ? [DICOMWEB_PLUGIN] : [],
    ...(o.dicomWeb ? { DicomWeb: { Enable: true, Root: '/dicom-web/' } } : {}),
  };
  writeFileSync(join(o.dir, 'orthanc.json'), JSON.stringify(cfg));
  const child: ChildProcess = spawn('Orthanc', [join(o.dir, 'orthanc.json')], { env: dcmtkEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const end = async (signal: NodeJS.Signals) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    await exited;
  };
  try {
    await Promise.race([
      Promise.all([waitForPort(httpPort, '127.0.0.1', 30_000), waitForPort(o.dicomPort, '127.0.0.1', 30_000)]),
      exited.then(() => Promise.reject(new Error(`Orthanc exited:\n${out.slice(-2000)}`))),
    ]);
  } catch (e) {
    await end('SIGKILL');
    throw e;
  }
  return { http: `http://127.0.0.1:${httpPort}`, httpPort, dicomPort: o.dicomPort, output: () => out, kill: () => end('SIGKILL'), stop: () => end('SIGTERM') };
}

/** A JSON answer of Orthanc's REST or DICOMweb API (the test's own client); throws on HTTP errors. */
export async function orthancJson<T>(o: Pick<Orthanc, 'http'>, path: string, init?: RequestInit): Promise<T> {
  const res = await fetch(o.http + path, init);
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}
