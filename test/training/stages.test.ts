// Smoke version of every training stage (tiny data, a few steps), the ONNX export and the
// PyTorch-vs-onnxruntime-node parity test. Needs Debian packages: python3-torch python3-numpy
// python3-scipy python3-nibabel python3-pydicom python3-onnx ffmpeg mricron-data.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, readFile, writeFile, mkdir, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readOnnxMetadata } from '../../src/interpolate/model/metadata.js';
import { ModelSession } from '../../src/interpolate/engine/session.js';
import { SHIPPED_MODEL, SHIPPED_THICK_MODEL } from '../../src/interpolate/model/shipped.js';
import { py, SHARED, CH2, PYTHON, REPO } from './py.js';

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'interslice-train-'));
});
after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

const small = ['--steps', '3', '--batch', '2', '--patch', '32', '--log-every', '1', '--threads', '2'];

test('pretrain-video on the shared clips (ffmpeg pipe) writes a checkpoint and a progress log', async () => {
  const out = join(dir, 's1');
  await py(['pretrain-video', '--video', join(SHARED, 'data', 'video'), '--max-clips', '2', '--max-frames', '10',
    '--scale', '0.25', '--ch', '8,12,16,20,24', '--out', out, ...small]);
  assert.ok(existsSync(join(out, 'model.pt')));
  const log = await readFile(join(out, 'train.log'), 'utf8');
  assert.match(log, /step 3\/3 .*ETA/);
});

test('pretrain-video also reads a Vimeo-90K septuplet layout', async () => {
  const seq = join(dir, 'vimeo', 'sequences', '00001', '0001');
  await mkdir(seq, { recursive: true });
  await promisify(execFile)('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc=size=64x48:rate=10', '-frames:v', '7',
    '-start_number', '1', join(seq, 'im%d.png')]);
  const out = join(dir, 's1v');
  await py(['pretrain-video', '--video', join(dir, 'vimeo'), '--scale', '1', '--ch', '8,12,16,20,24', '--out', out, ...small]);
  const log = await readFile(join(out, 'train.log'), 'utf8');
  assert.match(log, /\*\.png -> 7 frames 64x48/);
});

test('finetune-mr on a mricron template', async () => {
  const out = join(dir, 's2');
  await py(['finetune-mr', '--init', join(dir, 's1', 'model.pt'), '--mr', CH2, '--resolutions', '4.0', '--out', out, ...small]);
  assert.ok(existsSync(join(out, 'model.pt')));
});

test('finetune-mr noise: --magnitude-noise puts a positive floor under the background, Gaussian noise does not', async () => {
  // ch2's background is exactly zero; real magnitude images have a positive noise floor there (model card, "SSIM drop").
  const code = [
    'import json, numpy as np',
    'from training.data import MRSampler',
    'out = {}',
    'for mag in (False, True):',
    `    s = MRSampler(["${CH2}"], resolutions=[4.0], p_thick=0, p_noise=1.0, p_dark=1.0, magnitude_noise=mag, log=lambda m: None)`,
    '    A, B, G, T, P, Q = s.sample(np.random.default_rng(1), 48, 32)',
    '    out["mag" if mag else "gauss"] = {"min": float(G.min()), "dark_mean": float(np.sort(G.ravel())[: G.size // 10].mean())}',
    'print(json.dumps(out))',
  ].join('\n');
  const { stdout } = await promisify(execFile)(PYTHON, ['-c', code], { cwd: REPO, timeout: 120_000, env: { ...process.env, OMP_NUM_THREADS: '2' } });
  const r = JSON.parse(stdout) as Record<'gauss' | 'mag', { min: number; dark_mean: number }>;
  console.log('darkest 10 % of target pixels:', r);
  assert.ok(r.gauss.min < 0, 'zero-mean Gaussian noise on a zero background goes negative');
  assert.ok(r.mag.min >= 0, 'a magnitude image is never negative');
  assert.ok(r.mag.dark_mean > 0.001, 'the darkest pixels sit on a noise floor above zero');
});

test('finetune-self on a 12-slice thick series reports held-out loss before/after', async () => {
  const out = join(dir, 's3');
  await py(['finetune-self', '--init', join(dir, 's2', 'model.pt'), '--target',
    join(SHARED, 'data', 'mr', 'siemens-asl-6mm-thick-7.5mm-spacing'), '--replay', CH2, '--replay-resolutions', '4.0',
    '--replay-patch', '32', '--out', out, '--steps', '4', '--eval-every', '2', '--batch', '2']);
  const res = JSON.parse(await readFile(join(out, 'result.json'), 'utf8'));
  console.log('finetune-self smoke:', res);
  assert.equal(typeof res.heldout_before, 'number');
  assert.ok(res.heldout_after <= res.heldout_before);
});

test('finetune-self with --drop uses only the kept slices of an evaluation volume', async () => {
  const out = join(dir, 's3d');
  await py(['finetune-self', '--init', join(dir, 's2', 'model.pt'), '--target',
    join(SHARED, 'data', 'mr', 'siemens-t1-sagittal-2mm-isotropic'), '--drop', '4', '--out', out, '--steps', '2', '--eval-every', '2', '--batch', '2']);
  const log = await readFile(join(out, 'train.log'), 'utf8');
  assert.match(log, /drop-4 kept slices only/);
  assert.match(log, /24 frames|frames of 24x/);
});

for (const tta of [false, true])
test(`export to ONNX with metadata, and PyTorch vs onnxruntime-node parity${tta ? ' (test-time augmentation graph)' : ''}`, async () => {
  const onnx = join(dir, tta ? 'm-tta.onnx' : 'm.onnx');
  const ckpt = join(dir, 's3', 'model.pt');
  await py(['export', '--ckpt', ckpt, '--out', onnx, ...(tta ? ['--tta'] : [])]);
  const meta = readOnnxMetadata(await readFile(onnx));
  assert.ok(Number(meta.opset) >= 16);
  for (const k of ['name', 'version', 'stages', 'normalisation', 'inputs', 'outputs', 'parameters', 'architecture']) assert.ok(meta[k], k);
  assert.deepEqual(JSON.parse(meta.stages!).map((s: { stage: string }) => s.stage), ['pretrain-video', 'finetune-mr', 'finetune-self']);
  const session = await ModelSession.open(await readFile(onnx), { provider: 'cpu', threads: 0 });
  for (const [rows, cols] of [[37, 53], [64, 64]] as const) {
    const n = rows * cols;
    // a, b and the context slices p, q (the default architecture takes four slices)
    const [a, b, p, q] = [0, 1, 2, 3].map((k) => Float32Array.from({ length: n }, (_, i) => 0.5 + 0.4 * Math.sin(i * (0.37 - 0.09 * k) + (i % cols) * 0.05 * k)));
    assert.equal(session.context, 4);
    const ts = [0.2, 0.5, 0.9];
    const files = Object.entries({ a, b, p, q }).flatMap(([k]) => [`--${k}`, join(dir, `${k}.f32`)]);
    for (const [k, x] of Object.entries({ a, b, p, q })) await writeFile(join(dir, `${k}.f32`), Buffer.from(x.buffer));
    await py(['infer', '--model', ckpt, ...files, '--rows', String(rows),
      '--cols', String(cols), '--t', ts.join(','), '--out', join(dir, 'y.f32'), ...(tta ? ['--tta'] : [])]);
    const yb = await readFile(join(dir, 'y.f32'));
    const yt = new Float32Array(yb.buffer, yb.byteOffset, yb.byteLength / 4);
    const rep = (x: Float32Array) => {
      const r = new Float32Array(ts.length * n);
      ts.forEach((_, j) => r.set(x, j * n));
      return r;
    };
    const all = await session.run({ a: rep(a), b: rep(b), t: Float32Array.from(ts), p: rep(p), q: rep(q) }, ts.length, rows, cols);
    const yo = ts.map((_, j) => all.subarray(j * n, (j + 1) * n));
    let maxDiff = 0;
    yo.forEach((s, j) => s.forEach((v, i) => (maxDiff = Math.max(maxDiff, Math.abs(v - yt[j * n + i])))));
    console.log(`ONNX parity${tta ? ' (tta)' : ''} ${rows}x${cols} t=${ts}: max |pytorch - onnxruntime| = ${maxDiff.toExponential(3)}`);
    assert.ok(maxDiff < 1e-4, `max abs diff ${maxDiff}`);
  }
  await session.release();
});

// interslice-v3 (their parent, kept), and the two shipped models built from it by one more run each
for (const [file, pThick] of [['models/interslice-v3.onnx', undefined], [SHIPPED_MODEL, 0.05], [SHIPPED_THICK_MODEL, 0.95]] as const)
test(`the model ${file} is present, small, and documents itself`, async () => {
  const path = new URL(`../../${file}`, import.meta.url);
  const st = await stat(path);
  assert.ok(st.size < 20e6);
  const meta = readOnnxMetadata(await readFile(path));
  assert.ok(Number(meta.parameters) <= 5e6);
  // interslice-v3: v2's three stages, then stage 2 continued in three runs on broader MR (training/rebuild.sh);
  // the thin and thick models: one run more, with 5 % and 95 % slab-averaged inputs
  const stages = JSON.parse(meta.stages!) as { stage: string; data: string[]; p_thick?: number }[];
  const runs = pThick === undefined ? 3 : 4;
  assert.deepEqual(stages.map((s) => s.stage), ['pretrain-video', 'finetune-mr', 'finetune-self', ...Array<string>(runs).fill('finetune-mr')]);
  if (pThick !== undefined) assert.equal(stages.at(-1)!.p_thick, pThick);
  // the evaluation volumes never enter training
  for (const s of stages) for (const d of s.data) assert.doesNotMatch(d, /prisma|studyforrest|stroke|^eval$|siemens-t1-sagittal-2mm-isotropic/, `${s.stage} trained on ${d}`);
  assert.match(meta.output_kind ?? '', /INTERPOLATED/);
});
