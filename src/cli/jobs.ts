// `interslice jobs list | retry KEY`: the dead letter of series jobs, from the command line. It
// asks the running node's admin API (admin.host/port/token of the configuration); when no node
// answers there, it reads and requeues the job files in storage.dir directly, so a job can be
// requeued before the node starts again. Clustered (cluster.database), it works on the
// database's queue instead, which every node shares. Both paths do the same: the job goes back to the queue
// with its attempts reset and runs at once.
import { join } from 'node:path';
import { ConfigError, configPath, DEFAULT_CONFIG_PATH, loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { FsJobQueue } from '../queue/fs-queue.js';
import { openDb } from '../cluster/db.js';
import { PgJobQueue } from '../cluster/pg-queue.js';
import { createLogger } from '../core/log.js';
import { fromRunningNode, type DeadLetterView } from '../admin/node-view.js';
import { DerivedRegistry } from '../pipeline/derived-registry.js';

interface Options {
  config?: string;
  json?: boolean;
}

function adminUrl(cfg: Config): string {
  const host = cfg.admin.host === '0.0.0.0' ? '127.0.0.1' : cfg.admin.host === '::' ? '::1' : cfg.admin.host;
  return `http://${host.includes(':') ? `[${host}]` : host}:${cfg.admin.port}`;
}

/** The admin API's answer, or undefined when no node listens there. */
async function api(cfg: Config, path: string, method = 'GET'): Promise<{ status: number; body: unknown } | undefined> {
  if (!cfg.admin.enabled) return undefined;
  try {
    const r = await fetch(`${adminUrl(cfg)}${path}`, {
      method,
      headers: cfg.admin.token ? { authorization: `Bearer ${cfg.admin.token}` } : {},
      signal: AbortSignal.timeout(10_000),
    });
    return { status: r.status, body: await r.json().catch(() => undefined) };
  } catch {
    return undefined;
  }
}

/** The same view the admin API gives, over the job files or the cluster database (no node answering); then done(). */
async function offline<T>(cfg: Config, use: (view: ReturnType<typeof fromRunningNode>) => Promise<T>): Promise<T> {
  const db = cfg.cluster.database ? openDb(cfg.cluster.database, createLogger({ level: 'warn' })) : undefined;
  const queue = db ? new PgJobQueue(db, { leaseMs: cfg.cluster.leaseSeconds * 1000 }) : new FsJobQueue(join(cfg.storage.dir, 'jobs'));
  try {
    return await use(
      fromRunningNode(
        { jobs: new Map(), queue, spool: { listSeries: async () => [] }, registry: new DerivedRegistry(join(cfg.storage.dir, 'registry')) },
        { listenerUp: () => false, modelLoaded: () => false, destinations: [], echo: async () => undefined },
      ),
    );
  } finally {
    await db?.close();
  }
}

/** Where the offline path read the jobs. */
const offlineSource = (cfg: Config) => (cfg.cluster.database ? 'the cluster database' : `job files in ${cfg.storage.dir}`);

function load(opts: Options): Config {
  try {
    return loadConfig(configPath(opts.config ?? DEFAULT_CONFIG_PATH)).config;
  } catch (e) {
    throw new Error(e instanceof ConfigError ? e.message : `configuration: ${(e as Error).message}`);
  }
}

export async function jobsListCommand(opts: Options): Promise<number> {
  const cfg = load(opts);
  const r = await api(cfg, '/api/jobs');
  let dead: DeadLetterView[];
  let source: string;
  if (r && r.status === 200) {
    dead = (r.body as { deadLetters?: DeadLetterView[] }).deadLetters ?? [];
    source = `node at ${adminUrl(cfg)}`;
  } else if (r) {
    console.error(`the admin API at ${adminUrl(cfg)} answered ${r.status}`);
    return 1;
  } else {
    dead = await offline(cfg, (v) => v.deadLetters());
    source = `${offlineSource(cfg)} (no node answers at ${adminUrl(cfg)})`;
  }
  if (opts.json) {
    console.log(JSON.stringify({ source, deadLetters: dead }, null, 2));
    return 0;
  }
  console.log(`dead letter (${source}): ${dead.length} series job(s)`);
  for (const d of dead) console.log(`${d.key}  series ${d.seriesInstanceUid}  attempts ${d.attempts}  ${d.deadAt ?? ''}\n    ${d.error ?? ''}`);
  return 0;
}

export async function jobsRetryCommand(key: string, opts: Options): Promise<number> {
  const cfg = load(opts);
  if (!/^[0-9a-f]{16}$/.test(key)) {
    console.error(`"${key}" is not a job key (16 hex digits, as \`interslice jobs list\` prints)`);
    return 2;
  }
  const r = await api(cfg, `/api/jobs/dead/${key}/retry`, 'POST');
  let requeued: boolean;
  if (r) {
    if (r.status !== 200 && r.status !== 404) {
      console.error(`the admin API at ${adminUrl(cfg)} answered ${r.status}`);
      return 1;
    }
    requeued = r.status === 200;
  } else requeued = await offline(cfg, (v) => v.retryDead(key));
  if (!requeued) {
    console.error(`no dead series job with key ${key}`);
    return 1;
  }
  console.log(`series job ${key} requeued${r ? '' : ' (no node running: it runs when the node starts)'}`);
  return 0;
}
