// `interslice eval --adapt`: the real command with the real per-series trainer (python3 -m training
// adapt-series, a few steps) on a small crop of an evaluation volume. Each row keeps the existing
// columns and adds the model adapted to the volume's kept slices: its figures are recomputed here
// independently (the trainer run again on the protocol's kept slices, the same seed and steps, its
// weights scored by runEvalOnVolume), the zero-shot figures are the row's model column, and what
// the pipeline would deliver follows the guard. Both figures include the through-plane refiner, as
// the node runs it after an adapted model too. Without Python the command says so, exit 2.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadVolume, runEvalOnVolume, type EvalTable } from '../../src/evaluate/index.js';
import { keptSlices } from '../../src/evaluate/protocol.js';
import { adaptSeries, NOT_KEPT_MODEL } from '../../src/interpolate/adapt/trainer.js';
import { centralCrop, evalCli, MODEL } from './crops.js';
import { SHIPPED_SHORT_REFINER } from '../../src/interpolate/model/shipped.js';
import { REPO } from '../training/py.js';

// thin kept slices: the standard model, so the refiner's thick input is 0
// factor 2: the node's choice is the short-gap refiner (trained on 2 and 4)
const REFINE = { refinerPath: join(REPO, SHIPPED_SHORT_REFINER), refinerThick: false };

const STEPS = 20;
let dir: string;
let vol: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'interslice-eval-adapt-'));
  vol = await centralCrop(dir, 'stroke-t1-8bit');
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const close = (a: number, b: number, tol: number, what: string) => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

test('eval --adapt --json: adapted vs zero-shot per row, recomputed independently; delivered follows the guard', async () => {
  const r = await evalCli([vol, '--factor', '2', '--model', MODEL, '--adapt', '--adapt-steps', String(STEPS), '--json'], process.env, 300_000);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`^adapt: ${STEPS} steps in `, 'm'), 'the trainer ran the steps asked for');
  const table = JSON.parse(r.stdout) as EvalTable;
  assert.equal(table.rows.length, 1);
  const [row] = table.rows;
  const a = row.adapt!;
  // the existing columns are still there, and zero-shot is the row's model column
  assert.deepEqual(Object.keys(row.scores), ['linear', 'cubic', 'model']);
  assert.ok(row.gain);
  assert.deepEqual(a.zeroShot, row.scores.model);
  const v = loadVolume(vol);
  const shipped = await runEvalOnVolume(v, { volume: vol, factor: 2, method: 'model', modelPath: MODEL, ...REFINE });
  close(a.zeroShot.psnr, shipped.psnr, 1e-9, 'zero-shot PSNR');

  // The trainer again, on the slices the protocol keeps (drop-2: every other one), same steps and seed
  const kept = keptSlices(v, 2, false);
  assert.equal(kept.length, 13);
  const { report, dir: out } = await adaptSeries({
    modelPath: MODEL, volume: { rows: v.rows, columns: v.cols, slices: kept, distances: kept.map((_, i) => 2 * i) },
    work: join(dir, 'again'), seconds: 120, threads: availableParallelism(), steps: STEPS, alwaysExport: true,
  });
  assert.equal(report.steps, STEPS);
  assert.equal(a.guard.kept, report.kept);
  assert.equal(a.guard.steps, STEPS);
  close(a.guard.heldoutGainDb!, report.gain_db!, 1e-9, 'held-out gain (the trainer is deterministic)');
  const weights = join(out, report.kept ? 'model.onnx' : NOT_KEPT_MODEL);
  assert.ok(existsSync(weights), `${weights}: the adapted weights are exported whether kept or not`);
  const adapted = await runEvalOnVolume(v, { volume: vol, factor: 2, method: 'model', modelPath: weights, ...REFINE });
  close(a.adapted.psnr, adapted.psnr, 1e-6, 'adapted PSNR');
  close(a.adapted.ssim, adapted.ssim, 1e-8, 'adapted SSIM');
  assert.notEqual(a.adapted.psnr, a.zeroShot.psnr, 'the adapted weights are not the shipped ones');

  // the true gain, and what the pipeline delivers: adapted when the guard kept it, else zero-shot
  close(a.gain.psnr, a.adapted.psnr - a.zeroShot.psnr, 1e-9, 'true PSNR gain');
  close(a.gain.ssim, a.adapted.ssim - a.zeroShot.ssim, 1e-12, 'true SSIM gain');
  assert.equal(a.delivered, a.guard.kept ? 'adapted' : 'zero-shot');
  assert.deepEqual(a.deliveredScore, a.guard.kept ? a.adapted : a.zeroShot);
  assert.deepEqual(a.deliveredGain, a.guard.kept ? a.gain : { psnr: 0, ssim: 0 });
  // the mean row over one row is that row
  const m = table.mean.adapt!;
  assert.deepEqual([m.kept, m.rows], [a.guard.kept ? 1 : 0, 1]);
  close(m.deliveredGain.psnr, a.deliveredGain.psnr, 1e-12, 'mean delivered gain');
  close(m.gain.psnr, a.gain.psnr, 1e-12, 'mean true gain');
});

test('eval --adapt --thick, as text: the existing columns, then adapted, its true gain, the guard and what is delivered', async () => {
  // --thick kept slices are as thick as their spacing: above the node's limit, so it is lifted here to train on them.
  const r = await evalCli([vol, '--factor', '2', '--model', MODEL, '--thick', '--adapt', '--adapt-steps', String(STEPS), '--adapt-max-thickness', '1'], process.env, 300_000);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n');
  assert.match(lines[0], /^volume\s+factor\s+linear PSNR\s+linear SSIM\s+cubic PSNR\s+cubic SSIM\s+model PSNR\s+model SSIM\s+gain PSNR\s+gain SSIM\s+adapted PSNR\s+adapted SSIM\s+adapt gain PSNR\s+adapt gain SSIM\s+guard\s+delivered\s+delivered gain PSNR\s+delivered gain SSIM$/);
  const row = lines[1].split(/\s{2,}/);
  const mean = lines[2].split(/\s{2,}/);
  assert.equal(row[1], 'thick-2');
  assert.equal(row.length, 18);
  const [adaptedPsnr, , gainPsnr, , guard, delivered, deliveredPsnr] = row.slice(10);
  const kept = /^kept [+-]\d+\.\d\d dB$/.test(guard);
  assert.ok(kept || /^not kept [+-]\d+\.\d\d dB$/.test(guard), guard);
  assert.equal(delivered, kept ? 'adapted' : 'zero-shot');
  assert.equal(deliveredPsnr, kept ? gainPsnr : '+0.00');
  // the true gain is the adapted column minus the model (zero-shot) column, to the rounding
  close(Number(gainPsnr), Number(adaptedPsnr) - Number(row[6]), 0.011, 'true gain in the text');
  assert.equal(mean[0], 'mean');
  assert.deepEqual(mean.slice(13, 15), [`${kept ? 1 : 0}/1 kept`, `${kept ? 1 : 0}/1 adapted`]);
  assert.equal(lines[3], '', 'the table ends after the mean line');
});

test('eval --adapt --thick with the node\'s limit: not applied, the shipped model delivered, the reason in the JSON', async () => {
  const r = await evalCli([vol, '--factor', '2', '--model', MODEL, '--thick', '--adapt', '--adapt-steps', String(STEPS), '--json'], process.env, 300_000);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /^adapt: slice thickness 1\.00 x the spacing, above 0\.75: thick stacks are not adapted$/m);
  const [row] = (JSON.parse(r.stdout) as EvalTable).rows;
  const a = row.adapt!;
  assert.deepEqual([a.guard.kept, a.guard.steps, a.delivered], [false, 0, 'zero-shot']);
  assert.equal(a.guard.reason, 'slice thickness 1.00 x the spacing, above 0.75: thick stacks are not adapted');
  assert.deepEqual(a.adapted, a.zeroShot);
  assert.deepEqual(a.deliveredGain, { psnr: 0, ssim: 0 });
});

test('eval --adapt without Python: one line naming what is missing, exit 2', async () => {
  const r = await evalCli([vol, '--factor', '2', '--model', MODEL, '--adapt'], { ...process.env, INTERSLICE_PYTHON: '/nonexistent/python3' });
  assert.equal(r.code, 2);
  assert.equal(r.stderr, 'interslice eval: --adapt needs Python with PyTorch (/nonexistent/python3, INTERSLICE_PYTHON): python3 not found at /nonexistent/python3\n');
  assert.equal(r.stdout, '');
});
