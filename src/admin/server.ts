// The admin HTTP endpoint (node:http): health and readiness probes, Prometheus metrics, the jobs
// API, the status page and its pictures. Own port, loopback by default; with a token, every path
// but /healthz needs "Authorization: Bearer <token>" (or HTTP Basic with the token as password,
// so a browser can open the status page).
import { createHash, timingSafeEqual } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../core/log.js';
import { jobView, recentJobs } from './jobs-view.js';
import { loadStack, type StackLoader } from './load-stack.js';
import { metrics as processMetrics, type DepthSample, type Metrics } from './metrics.js';
import type { AdminJob, AdminNode } from './node-view.js';
import { statusPage } from './page.js';
import { jobKey, PictureStore, type PictureState } from './pictures.js';

export interface AdminServerOptions {
  host: string;
  port: number;
  token?: string | null;
  node: AdminNode;
  /** Where rendered pictures are cached (e.g. <storage.dir>/admin/pictures). */
  renderDir: string;
  log: Logger;
  /** Defaults to the process-wide registry the stages record into. */
  metrics?: Metrics;
  /** Defaults to the assemble-stage loader; tests may pass their own. */
  loadStack?: StackLoader;
  /** Status page refresh interval (s). */
  refreshSeconds?: number;
  /** How long a C-ECHO result counts for readiness (ms); probes come often. */
  echoCacheMs?: number;
  echoTimeoutMs?: number;
  /** How long the status page waits for pictures being rendered before it answers (ms). */
  pageRenderBudgetMs?: number;
}

export interface AdminServer {
  port: number;
  url: string;
  close(): Promise<void>;
}

interface CheckResult {
  ok: boolean;
  error?: string;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Constant-time check of the presented credentials (Bearer, or Basic with the token as password). */
export function authorised(header: string | undefined, token: string): boolean {
  if (!header) return false;
  let presented: string | undefined;
  const [scheme, value = ''] = header.split(/\s+/, 2);
  if (/^bearer$/i.test(scheme)) presented = value;
  else if (/^basic$/i.test(scheme)) {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    presented = decoded.slice(decoded.indexOf(':') + 1);
  }
  return presented !== undefined && timingSafeEqual(digest(presented), digest(token));
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

function send(res: ServerResponse, status: number, type: string, body: string | Buffer, extra: Record<string, string | string[]> = {}): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', ...extra });
  res.end(body);
}

const json = (res: ServerResponse, status: number, body: unknown) => send(res, status, 'application/json; charset=utf-8', `${JSON.stringify(body, null, 2)}\n`);

export async function startAdminServer(opts: AdminServerOptions): Promise<AdminServer> {
  const { node, log } = opts;
  const m = opts.metrics ?? processMetrics;
  const token = opts.token || undefined;
  const pictures = new PictureStore({ dir: opts.renderDir, node, load: opts.loadStack ?? loadStack, log });
  const echoCache = new Map<string, { at: number; result: CheckResult }>();

  m.setDepthSource(async (): Promise<DepthSample[]> => {
    const samples: DepthSample[] = [];
    for (const [kind, d] of Object.entries(await node.queueDepth())) {
      for (const state of ['queued', 'leased', 'dead'] as const) samples.push({ queue: kind, state, count: d[state] });
    }
    const counts: Record<string, number> = { queued: 0, sending: 0, done: 0, dead: 0 };
    for (const e of await node.outbox()) counts[e.state] = (counts[e.state] ?? 0) + 1;
    for (const [state, count] of Object.entries(counts)) samples.push({ queue: 'outbox', state, count });
    return samples;
  });

  const echo = async (dest: string): Promise<CheckResult> => {
    const cached = echoCache.get(dest);
    if (cached && Date.now() - cached.at < (opts.echoCacheMs ?? 10_000)) return cached.result;
    let result: CheckResult;
    try {
      await withTimeout(node.echo(dest), opts.echoTimeoutMs ?? 5000, `C-ECHO to ${dest}`);
      result = { ok: true };
    } catch (e) {
      result = { ok: false, error: (e as Error).message };
    }
    echoCache.set(dest, { at: Date.now(), result });
    return result;
  };

  // A destination that is down does not take the node out of service: the outbox keeps what is
  // owed to it. Readiness names it; /healthz and /metrics report it from the last C-ECHO.
  const readiness = async () => {
    const listener: CheckResult = node.listenerUp() ? { ok: true } : { ok: false, error: 'the DICOM listener is not accepting associations' };
    const model: CheckResult = node.modelLoaded() ? { ok: true } : { ok: false, error: 'the interpolation model is not loaded' };
    const database: CheckResult | undefined = !node.databaseUp ? undefined : (await node.databaseUp()) ? { ok: true } : { ok: false, error: 'the cluster database does not answer' };
    const names = node.destinations();
    const results = await Promise.all(names.map(echo));
    const destinations = Object.fromEntries(names.map((n, i) => [n, results[i]]));
    // Adaptation is never a reason to be unready (the shipped model serves); asked for
    // (pipeline.adapt: series) but unavailable, the node is degraded and says why.
    const adaptation = node.adaptation?.();
    const failed = [...(listener.ok ? [] : ['listener']), ...(model.ok ? [] : ['model']), ...(database && !database.ok ? ['database'] : [])];
    const degraded = [
      ...names.filter((_, i) => !results[i].ok).map((n) => `destination:${n}`),
      ...(adaptation?.mode === 'series' && !adaptation.available ? ['adaptation'] : []),
    ];
    return { ready: failed.length === 0, failed, degraded, checks: { listener, model, ...(database ? { database } : {}), ...(adaptation ? { adaptation } : {}), destinations } };
  };
  /** The last C-ECHO result per destination, refreshed in the background (never waited for). */
  const lastDestinationState = () => {
    const out: Record<string, { ok: boolean; error?: string; checkedAt?: string }> = {};
    for (const n of node.destinations()) {
      const c = echoCache.get(n);
      if (!c || Date.now() - c.at > (opts.echoCacheMs ?? 10_000)) void echo(n);
      out[n] = c ? { ...c.result, checkedAt: new Date(c.at).toISOString() } : { ok: false, error: 'not checked yet' };
    }
    return out;
  };
  m.setDestinationSource?.(() => Object.entries(lastDestinationState()).map(([destination, r]) => ({ destination, up: r.ok })));

  const findJob = (key: string): AdminJob | undefined => {
    for (const j of node.jobs()) if (jobKey(j.id) === key) return j;
    return undefined;
  };

  const page = async () => {
    const jobs = recentJobs(node.jobs(), 20);
    const outbox = await node.outbox();
    const views = jobs.map((j) => jobView(j, outbox));
    // Render what is missing, but answer within the budget; the rest shows on a later refresh.
    const states = new Map<string, PictureState>();
    const deadline = Date.now() + (opts.pageRenderBudgetMs ?? 5000);
    for (const j of jobs) {
      const key = jobKey(j.id);
      for (let i = 0; i < (j.result?.stacks.length ?? 0); i++) {
        if (!PictureStore.hasPictures(j, i)) continue;
        const left = deadline - Date.now();
        const p = pictures.ensure(j, i);
        const st = left > 0 ? await Promise.race([p, sleep(left, undefined, { ref: false })]) : undefined;
        if (st) states.set(`${key}/${i}`, st);
      }
    }
    const outboxCounts: Record<string, number> = {};
    for (const e of outbox) outboxCounts[e.state] = (outboxCounts[e.state] ?? 0) + 1;
    return statusPage({
      jobs: views,
      pictures: states,
      depth: await node.queueDepth(),
      outbox: outboxCounts,
      deadLetters: await node.deadLetters(),
      superseded: await node.superseded(),
      refreshSeconds: opts.refreshSeconds ?? 10,
      now: new Date(),
    });
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://admin').pathname;
    const retryPath = /^\/api\/jobs\/dead\/([0-9a-f]{16})\/retry$/.exec(path);
    if (retryPath ? req.method !== 'POST' : req.method !== 'GET' && req.method !== 'HEAD') {
      return send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n', { allow: retryPath ? 'POST' : 'GET, HEAD' });
    }
    if (path === '/healthz') return json(res, 200, { status: 'ok', destinations: lastDestinationState() });
    if (token && !authorised(req.headers.authorization, token)) {
      return send(res, 401, 'text/plain; charset=utf-8', 'unauthorised\n', {
        'www-authenticate': ['Bearer realm="interslice"', 'Basic realm="interslice", charset="UTF-8"'],
      });
    }
    if (path === '/readyz') {
      const r = await readiness();
      return json(res, r.ready ? 200 : 503, r);
    }
    if (path === '/metrics') return send(res, 200, m.contentType, await m.text());
    if (path === '/api/jobs') {
      const outbox = await node.outbox();
      return json(res, 200, {
        jobs: recentJobs(node.jobs()).map((j) => jobView(j, outbox)),
        deadLetters: await node.deadLetters(),
        superseded: await node.superseded(),
      });
    }
    if (retryPath) {
      const requeued = await node.retryDead(retryPath[1]);
      log.info('dead series job requeued', { event: 'job-requeued', key: retryPath[1], requeued, via: 'admin api' });
      return json(res, requeued ? 200 : 404, { requeued, key: retryPath[1] });
    }
    if (path === '/') {
      // The page loads nothing but its own pictures and inline CSS; it runs no script.
      return send(res, 200, 'text/html; charset=utf-8', await page(), {
        'content-security-policy': "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        'referrer-policy': 'no-referrer',
      });
    }
    const pic = /^\/jobs\/([0-9a-f]{16})\/([^/]+)$/.exec(path);
    if (pic) {
      const job = findJob(pic[1]);
      const file = job ? await pictures.file(job, pic[2]) : undefined;
      if (!file) return send(res, 404, 'text/plain; charset=utf-8', 'no such picture\n');
      // Pictures of a finished job never change (a re-run gets another folder and URL key).
      res.writeHead(200, { 'content-type': 'image/png', 'cache-control': 'private, max-age=300', 'x-content-type-options': 'nosniff' });
      if (req.method === 'HEAD') return res.end();
      createReadStream(file)
        .on('error', () => res.destroy())
        .pipe(res);
      return;
    }
    return send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((e) => {
      log.error('admin request failed', { path: req.url, error: (e as Error).message });
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', 'internal error\n');
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${port}`;
  log.info('admin endpoint listening', { host: opts.host, port, token: token ? 'required' : 'none' });
  return {
    port,
    url,
    close: () =>
      new Promise<void>((resolve) => {
        m.setDepthSource(undefined);
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
