// A real PostgreSQL (Debian's, 15) for the cluster tests: a throw-away cluster made with
// initdb in a temp folder owned by the `postgres` user (initdb refuses root), listening on
// 127.0.0.1 only, with trust authentication. stop()/start() let a test take the database
// down and bring it back with its data.
import { spawn, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openDb, type Db } from '../../src/cluster/db.js';
import { logger } from '../../src/core/log.js';
import { freePort, waitForPort } from './peers.js';

export interface Postgres {
  url: string;
  port: number;
  /** Creates an empty database (one per test world) and returns its URL. */
  createDatabase(): Promise<string>;
  start(): Promise<void>;
  stop(): Promise<void>;
  destroy(): Promise<void>;
}

function pgBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a));
  return versions.length ? join(root, versions[0], 'bin') : undefined;
}

export const havePostgres = (): boolean => !!pgBin() && spawnSync('id', ['postgres']).status === 0;
/** The skip reason of a suite that needs PostgreSQL, or undefined. */
export const noPostgres = (): string | undefined => (havePostgres() ? undefined : 'PostgreSQL is not installed (Debian package postgresql, user postgres)');

/** Runs a PostgreSQL binary as the postgres user when we are root (setpriv execs: signals reach postgres itself). */
function asPostgres(cmd: string, args: string[]): [string, string[]] {
  return process.getuid?.() === 0 ? ['setpriv', ['--reuid=postgres', '--regid=postgres', '--init-groups', cmd, ...args]] : [cmd, args];
}

function run(cmd: string, args: string[]): void {
  const [c, a] = asPostgres(cmd, args);
  const r = spawnSync(c, a, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr || r.stdout}`);
}

export async function startPostgres(): Promise<Postgres> {
  const bin = pgBin();
  if (!bin) throw new Error('PostgreSQL is not installed (Debian package postgresql)');
  const dir = mkdtempSync(join(tmpdir(), 'interslice-pg-'));
  const data = join(dir, 'data');
  const sock = join(dir, 'sock');
  if (process.getuid?.() === 0) {
    const uid = Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim());
    const gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim());
    chownSync(dir, uid, gid);
  }
  run(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8']);
  run('mkdir', ['-p', sock]);
  const port = await freePort();
  let proc: ReturnType<typeof spawn> | undefined;
  const start = async () => {
    const [c, a] = asPostgres(join(bin, 'postgres'), ['-D', data, '-p', String(port), '-k', sock, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'max_connections=200']);
    const p = spawn(c, a, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr!.on('data', (d) => (err += d));
    proc = p;
    await Promise.race([
      // Generous: the first start on a machine that has just installed PostgreSQL reads it all from disk.
      waitForPort(port, '127.0.0.1', 90_000),
      new Promise((_, reject) => p.once('exit', () => reject(new Error(`postgres exited: ${err}`)))),
    ]);
    // Accepting TCP is not yet accepting queries: wait for pg_isready.
    for (const deadline = Date.now() + 60_000; Date.now() < deadline; ) {
      if (spawnSync(join(bin, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(port)]).status === 0) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`postgres not ready: ${err}`);
  };
  const stop = async () => {
    const p = proc;
    proc = undefined;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGINT'); // fast shutdown: open connections are cut, as when the server goes down
    await exited;
  };
  await start();
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  let databases = 0;
  return {
    url,
    port,
    async createDatabase() {
      const name = `test_${++databases}`;
      const c = new pg.Client(url);
      await c.connect();
      try {
        await c.query(`CREATE DATABASE ${name}`);
      } finally {
        await c.end();
      }
      return url.replace(/\/postgres$/, `/${name}`);
    },
    start,
    stop,
    async destroy() {
      await stop();
      rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
    },
  };
}

/**
 * A PostgreSQL for a test file, started on first use: fresh databases, pools on them (each
 * one a "process"), and close() for the file's after() (pools closed, server removed).
 */
export function lazyPostgres(): { database(): Promise<string>; pool(url: string): Db; close(): Promise<void> } {
  let server: Promise<Postgres> | undefined;
  const pools: Db[] = [];
  return {
    async database() {
      server ??= startPostgres();
      return (await server).createDatabase();
    },
    pool(url) {
      const db = openDb(url, logger('test'));
      pools.push(db);
      return db;
    },
    async close() {
      for (const d of pools) await d.close();
      await (await server)?.destroy();
    },
  };
}
