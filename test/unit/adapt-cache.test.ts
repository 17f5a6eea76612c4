// The node's adaptation cache (src/pipeline/adapt-stack.ts) in process, with the shipped model
// and a stand-in python3 (INTERSLICE_PYTHON, which also answers the import check): one trainer run per stack content, reused after that
// (same interpolator content id), a failure of the trainer remembered, and the cache bounded:
// entries unused for the retention are removed, and no more than maxEntries are kept.
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Interpolator, Stack, VolumeF32 } from '../../src/core/types.js';
import { createModelInterpolator, type ModelInterpolator } from '../../src/interpolate/model-interpolator.js';
import { ENGINE_DEFAULTS } from '../../src/interpolate/engine/options.js';
import { StackAdapter } from '../../src/pipeline/adapt-stack.js';
import { SHIPPED_MODEL } from '../../src/interpolate/model/shipped.js';
import type { ContentSource } from '../../src/pipeline/content-key.js';
import { captureLog } from '../receive/log-capture.js';

const MODEL = fileURLToPath(new URL(`../../${SHIPPED_MODEL}`, import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'interslice-adapt-cache-'));
const storage = join(dir, 'var');
let model: ModelInterpolator;
let saved: string | undefined;

const volume: VolumeF32 = { rows: 4, columns: 4, slices: Array.from({ length: 9 }, (_, i) => new Float32Array(16).fill(i)), distances: Array.from({ length: 9 }, (_, i) => 5 * i) };
// 1 mm slices every 5 mm (thickness 0.2 of the spacing): thin enough to be adapted.
const stack = (id: string) =>
  ({ id, slices: volume.slices.map(() => ({ instance: { sliceThickness: 1, frames: [{ frame: 0 }] }, frame: 0 })), spacing: { mean: 5 } }) as unknown as Stack;
const sources = (tag: string): ContentSource[] => [{ sopInstanceUid: `1.2.3.${tag}`, frame: 0, rescaleSlope: 1, rescaleIntercept: 0, instanceSha256: tag }];

describe('the adaptation cache', () => {
  before(async () => {
    // The stand-in: `-c` (the import check) says every module is there; the trainer does what ./mode says and counts its runs.
    writeFileSync(join(dir, 'python3'), [
      '#!/bin/sh',
      `if [ "$1" = "-c" ]; then echo 'INTERSLICE-CHECK {}'; exit 0; fi`,
      `echo "run $*" >> ${dir}/runs`,
      'out=""; while [ $# -gt 0 ]; do if [ "$1" = "--out" ]; then out="$2"; fi; shift; done',
      'mkdir -p "$out"',
      `if [ "$(cat ${dir}/mode)" = fail ]; then exit 2; fi`,
      `printf '{"kept": false, "reason": "r", "steps": 5, "gain_db": -0.1}' > "$out/report.json"`,
      '',
    ].join('\n'));
    chmodSync(join(dir, 'python3'), 0o755);
    saved = process.env.INTERSLICE_PYTHON;
    process.env.INTERSLICE_PYTHON = join(dir, 'python3');
    model = await createModelInterpolator(MODEL, undefined, { ...ENGINE_DEFAULTS, provider: 'cpu' });
  });
  after(async () => {
    await model.release();
    if (saved === undefined) delete process.env.INTERSLICE_PYTHON;
    else process.env.INTERSLICE_PYTHON = saved;
    rmSync(dir, { recursive: true, force: true });
  });

  const runs = () => (existsSync(join(dir, 'runs')) ? readFileSync(join(dir, 'runs'), 'utf8').split('\n').filter(Boolean).length : 0);
  const entries = () => readdirSync(join(storage, 'adapted')).sort();

  it('trains once per stack content, reuses it after, remembers a failure, and stays within its bounds', async () => {
    const { log, lines } = captureLog();
    const adapter = new StackAdapter({ mode: 'series', method: 'model', seconds: 5, maxThickness: 0.75, threads: 1, storageDir: storage, retentionMs: 3_600_000, log, maxEntries: 3 });
    assert.equal((await adapter.ready()).available, true);
    // An entry nobody used for two hours: older than the retention.
    mkdirSync(join(storage, 'adapted', 'stale'), { recursive: true });
    const twoHoursAgo = new Date(Date.now() - 2 * 3_600_000);
    utimesSync(join(storage, 'adapted', 'stale'), twoHoursAgo, twoHoursAgo);

    writeFileSync(join(dir, 'mode'), 'ok');
    const base: Interpolator = model;
    const a1 = await adapter.forStack(base, stack('A'), sources('a'), async () => volume);
    assert.equal(a1.interpolator.adaptation, 'adaptation tried, not kept (held-out -0.10 dB)');
    assert.notEqual(a1.interpolator.contentId, model.contentId);
    assert.equal(runs(), 1);
    assert.match(readFileSync(join(dir, 'runs'), 'utf8'), / --thickness 0\.2000 --max-thickness 0\.75( |$)/m, 'the stack\'s thickness and the limit go to the trainer');
    assert.ok(!entries().includes('stale'), 'an entry unused for longer than the retention is removed');

    const a2 = await adapter.forStack(base, stack('A'), sources('a'), async () => volume);
    assert.equal(runs(), 1, 'the same content: no second run');
    assert.equal(a2.interpolator.contentId, a1.interpolator.contentId);
    assert.ok(lines.some((l) => l.event === 'adapt-reused'));

    writeFileSync(join(dir, 'mode'), 'fail');
    const b = await adapter.forStack(base, stack('B'), sources('b'), async () => volume);
    assert.equal(b.interpolator, base, 'a failed trainer: the shipped model as it is');
    assert.match(String(lines.find((l) => l.event === 'adapt-failed')?.reason), /exited with code 2/);
    writeFileSync(join(dir, 'mode'), 'ok');
    await adapter.forStack(base, stack('B'), sources('b'), async () => volume);
    assert.equal(runs(), 2, 'the failure is remembered: a re-run of the stack gives the same series');

    for (const tag of ['c', 'd', 'e']) await adapter.forStack(base, stack(tag), sources(tag), async () => volume);
    assert.equal(runs(), 5);
    assert.equal(entries().length, 3, 'at most maxEntries');
    assert.deepEqual(readdirSync(join(storage, 'tmp')), [], 'work files removed');
  });

  it('pipeline.adapt none, or no model: nothing is tried', async () => {
    const { log } = captureLog();
    const none = new StackAdapter({ mode: 'none', method: 'model', seconds: 5, maxThickness: 0.75, threads: 1, storageDir: storage, retentionMs: 0, log });
    assert.deepEqual(await none.ready(), { ok: true, mode: 'none', available: false, reason: 'not configured (pipeline.adapt: none)' });
    const r = await none.forStack(model, stack('Z'), sources('z'), async () => volume);
    assert.equal(r.interpolator, model);
    const cubic = new StackAdapter({ mode: 'series', method: 'cubic', seconds: 5, maxThickness: 0.75, threads: 1, storageDir: storage, retentionMs: 0, log });
    assert.match(String((await cubic.ready()).reason), /pipeline\.method is cubic: adaptation applies to the learned model only/);
  });
});
