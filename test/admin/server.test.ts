// The admin endpoint over real jobs (the shared ASL series interpolated to 1 mm, the localizers
// skipped): status codes, the bearer token, readiness, Prometheus text, the jobs API without
// patient data, and the before/after pictures at true aspect ratio.
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { createMetrics } from '../../src/admin/metrics.js';
import type { AdminJob } from '../../src/admin/node-view.js';
import { startAdminServer, type AdminServer } from '../../src/admin/server.js';
import { createLogger } from '../../src/core/log.js';
import { ASL_PATIENT, nodeOver, standardJobs, type FakeChecks } from './fixture.js';
import { parseExposition, valueOf } from './prom-text.js';

const TOKEN = 'admin-test-token';
const auth = { authorization: `Bearer ${TOKEN}` };

/** Every string anywhere in a JSON value. */
function strings(v: unknown, out: string[] = []): string[] {
  if (typeof v === 'string') out.push(v);
  else if (Array.isArray(v)) v.forEach((x) => strings(x, out));
  else if (v && typeof v === 'object') Object.entries(v).forEach(([k, x]) => (out.push(k), strings(x, out)));
  return out;
}

/** Runs of equal values down the middle column of a greyscale PNG. */
async function verticalRuns(png: Buffer): Promise<number> {
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  const x = Math.floor(info.width / 2);
  let runs = 1;
  for (let y = 1; y < info.height; y++) if (data[y * info.width * info.channels + x * info.channels] !== data[(y - 1) * info.width * info.channels + x * info.channels]) runs++;
  return runs;
}

describe('admin server', () => {
  let dir: string;
  let server: AdminServer;
  let jobs: AdminJob[];
  const checks: FakeChecks = { listener: true, model: true, destinations: { pacs: true } };
  const get = (path: string, headers: Record<string, string> = auth, method = 'GET') => fetch(`${server.url}${path}`, { headers, method });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'interslice-admin-'));
    const std = await standardJobs(join(dir, 'derived'));
    jobs = std.jobs;
    server = await startAdminServer({
      host: '127.0.0.1',
      port: 0,
      token: TOKEN,
      node: nodeOver(jobs, std.folders, checks),
      renderDir: join(dir, 'pictures'),
      log: createLogger({ silent: true }),
      metrics: createMetrics(),
      echoCacheMs: 0,
    });
  });

  after(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('answers /healthz without a token', async () => {
    const r = await get('/healthz', {});
    assert.equal(r.status, 200);
    const body = (await r.json()) as { status: string; destinations: Record<string, unknown> };
    assert.equal(body.status, 'ok');
    assert.deepEqual(Object.keys(body.destinations), ['pacs']);
  });

  it('refuses everything else without the right token', async () => {
    for (const path of ['/', '/readyz', '/metrics', '/api/jobs', `/jobs/0123456789abcdef/0-column-source.png`]) {
      const wrong: Record<string, string>[] = [{}, { authorization: 'Bearer wrong' }, { authorization: `Basic ${Buffer.from('x:wrong').toString('base64')}` }];
      for (const headers of wrong) {
        const r = await get(path, headers);
        assert.equal(r.status, 401, `${path} ${JSON.stringify(headers)}`);
        assert.match(r.headers.get('www-authenticate') ?? '', /Bearer realm="interslice"/);
        await r.arrayBuffer();
      }
    }
    // Basic with the token as password, so a browser can log in.
    const r = await get('/api/jobs', { authorization: `Basic ${Buffer.from(`admin:${TOKEN}`).toString('base64')}` });
    assert.equal(r.status, 200);
    await r.arrayBuffer();
  });

  it('reports readiness and names the failed check; a destination that is down degrades, never fails it', async () => {
    let r = await get('/readyz');
    assert.equal(r.status, 200);
    assert.deepEqual(((await r.json()) as { failed: string[] }).failed, []);
    checks.destinations.pacs = false;
    try {
      r = await get('/readyz');
      assert.equal(r.status, 200);
      const body = (await r.json()) as { ready: boolean; failed: string[]; degraded: string[]; checks: { destinations: Record<string, { ok: boolean; error?: string }> } };
      assert.equal(body.ready, true);
      assert.deepEqual(body.degraded, ['destination:pacs']);
      assert.match(body.checks.destinations.pacs.error ?? '', /rejected/);
      // /healthz and /metrics report the destination from the last C-ECHO.
      const health = (await (await fetch(`${server.url}/healthz`)).json()) as { destinations: Record<string, { ok: boolean }> };
      assert.equal(health.destinations.pacs.ok, false);
      assert.match(await (await get('/metrics')).text(), /interslice_destination_up\{destination="pacs"\} 0/);
    } finally {
      checks.destinations.pacs = true;
    }
    checks.destinations.pacs = false;
    checks.model = false;
    try {
      r = await get('/readyz');
      assert.equal(r.status, 503);
      const body = (await r.json()) as { ready: boolean; failed: string[] };
      assert.equal(body.ready, false);
      assert.deepEqual(body.failed, ['model']);
    } finally {
      checks.destinations.pacs = true;
      checks.model = true;
    }
    checks.listener = false;
    r = await get('/readyz');
    checks.listener = true;
    assert.equal(r.status, 503);
    assert.deepEqual(((await r.json()) as { failed: string[] }).failed, ['listener']);
  });

  it('serves Prometheus text that parses, with queue depths', async () => {
    const r = await get('/metrics');
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const e = parseExposition(await r.text());
    assert.equal(valueOf(e, 'interslice_queue_depth', { queue: 'series', state: 'queued' }), 1);
    assert.equal(valueOf(e, 'interslice_queue_depth', { queue: 'outbox', state: 'dead' }), 0);
    assert.equal(e.types.get('interslice_stacks_total'), 'counter');
  });

  it('lists jobs with decisions and derived series, and no patient data', async () => {
    const r = await get('/api/jobs');
    assert.equal(r.status, 200);
    const text = await r.text();
    const body = JSON.parse(text) as { jobs: any[] };
    assert.equal(body.jobs.length, 3);
    const asl = body.jobs.find((j) => j.stacks.some((s: any) => s.derived));
    assert.ok(asl, 'the processed job is listed');
    assert.equal(asl.state, 'done');
    assert.equal(asl.instances, 12);
    assert.equal(asl.seconds, 2.4);
    const stack = asl.stacks[0];
    assert.equal(stack.decision.action, 'process');
    assert.equal(stack.slices, 12);
    const derived = jobs[0].result!.stacks[0].derived!;
    assert.equal(stack.derived.seriesInstanceUid, derived.seriesInstanceUid);
    assert.equal(stack.derived.sliceCount, derived.files.length);
    assert.ok(stack.derived.sliceCount > 80, `${stack.derived.sliceCount} slices at ~1 mm`);
    assert.equal(stack.pictures.length, 2);
    const loc = body.jobs.find((j) => j.instances === 11);
    assert.ok(loc.stacks.length >= 3 && loc.stacks.every((s: any) => s.decision.action === 'skip' && s.decision.reason));
    // No patient attribute of the data, in any value or key, nor any file path.
    for (const s of strings(body)) {
      assert.ok(!s.includes(ASL_PATIENT.name), s);
      assert.notEqual(s, ASL_PATIENT.id);
      assert.ok(!s.includes(ASL_PATIENT.birthDate), s);
      assert.ok(!/patient/i.test(s), s);
      assert.ok(!s.includes(dir), s);
    }
    assert.ok(!text.includes(ASL_PATIENT.name));
  });

  it('serves before/after reformats at true aspect ratio, staircase before and none after', async () => {
    const body = (await (await get('/api/jobs')).json()) as { jobs: any[] };
    const pics = body.jobs.flatMap((j) => j.stacks.flatMap((s: any) => s.pictures ?? []));
    assert.equal(pics.length, 2);
    for (const p of pics) {
      const [src, der] = await Promise.all([get(p.source), get(p.derived)]);
      assert.equal(src.status, 200);
      assert.equal(src.headers.get('content-type'), 'image/png');
      const [a, b] = [Buffer.from(await src.arrayBuffer()), Buffer.from(await der.arrayBuffer())];
      const [ma, mb] = [await sharp(a).metadata(), await sharp(b).metadata()];
      // 64 px at 4 mm = 256 mm across; 12 slices x 7.5 mm = 90 mm down; at 1 mm per pixel.
      assert.deepEqual([ma.width, ma.height], [256, 90], p.source);
      assert.deepEqual([mb.width, mb.height], [256, 90], p.derived);
      const [ra, rb] = [await verticalRuns(a), await verticalRuns(b)];
      assert.ok(ra <= 12, `source: ${ra} steps down the middle (one per thick slice at most)`);
      assert.ok(rb > 2 * ra, `derived: ${rb} steps down the middle, smoother than the source's ${ra}`);
    }
  });

  it('renders once and keeps the pictures on disk', async () => {
    const body = (await (await get('/api/jobs')).json()) as { jobs: any[] };
    const url: string = body.jobs.flatMap((j) => j.stacks.flatMap((s: any) => s.pictures ?? []))[0].source;
    const key = url.split('/')[2];
    const { readdir } = await import('node:fs/promises');
    const folder = (await readdir(join(dir, 'pictures'))).find((f) => f.startsWith(key));
    assert.ok(folder);
    const manifest = join(dir, 'pictures', folder, '0', 'manifest.json');
    const before = (await stat(manifest)).mtimeMs;
    const r = await get('/');
    assert.equal(r.status, 200);
    await r.text();
    await (await get(url)).arrayBuffer();
    assert.equal((await stat(manifest)).mtimeMs, before);
  });

  it('answers 404 and 405 where it should', async () => {
    assert.equal((await get('/nope')).status, 404);
    assert.equal((await get('/jobs/0123456789abcdef/0-column-source.png')).status, 404);
    const key = ((await (await get('/api/jobs')).json()) as { jobs: any[] }).jobs[0].key;
    assert.equal((await get(`/jobs/${key}/../../etc/passwd`)).status, 404);
    assert.equal((await get(`/jobs/${key}/9-column-source.png`)).status, 404);
    assert.equal((await get('/api/jobs', auth, 'POST')).status, 405);
  });
});
