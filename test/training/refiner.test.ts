// The through-plane refiner's training (training/refiner.py): a few steps on the training
// volumes write a checkpoint and an ONNX the node opens and checks (src/interpolate/refine),
// and neither it nor the shipped refiner has seen an evaluation volume.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readOnnxMetadata } from '../../src/interpolate/model/metadata.js';
import { Refiner } from '../../src/interpolate/refine/refiner.js';
import { ENGINE_DEFAULTS } from '../../src/interpolate/engine/options.js';
import { SHIPPED_REFINER, SHIPPED_SHORT_REFINER } from '../../src/interpolate/model/shipped.js';
import { py, SHARED, REPO } from './py.js';

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'interslice-refiner-'));
});
after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

const TRAIN = join(SHARED, 'data', 'mr-3d', 'train');
const EVAL = join(SHARED, 'data', 'mr-3d', 'eval');

async function trainingData(onnx: string): Promise<string[]> {
  const meta = readOnnxMetadata(await readFile(onnx));
  assert.equal(meta.kind, 'refiner');
  return (JSON.parse(meta.training ?? '{}') as { data?: string[] }).data ?? [];
}

test('python3 -m training refiner: a short run writes weights and an ONNX that the node opens, checks and runs', async () => {
  const out = join(dir, 'refiner.pt');
  const log = await py(['refiner', '--out', out, '--steps', '3', '--ks', '2', '--axes', '0', '--cache', join(dir, 'cache'), '--version', '0.0.1'], 600_000);
  assert.match(log, /step 3 /);
  assert.ok(existsSync(out));
  const onnx = join(dir, 'refiner.onnx');
  assert.deepEqual(await trainingData(onnx), (await readdir(TRAIN)).filter((f) => f.endsWith('.nii.gz')).sort());
  const r = await Refiner.open(onnx, { ...ENGINE_DEFAULTS, provider: 'cpu' });
  try {
    assert.match(r.description, /^refiner interslice-refiner 0\.0\.1 sha256:[0-9a-f]{16}$/);
    // acquired rows (distance 0) are not returned; the synthesised one is, with its own values
    const slices = [new Float32Array(6).fill(0.2), new Float32Array(6).fill(0.4), new Float32Array(6).fill(0.6)];
    const res = await r.refine(slices, Float32Array.from([0, 0.5, 0]), false, 2, 3);
    assert.equal(res[0], undefined);
    assert.equal(res[2], undefined);
    assert.equal(res[1]!.length, 6);
    for (const v of res[1]!) assert.ok(Math.abs(v - 0.4) < 0.05, `refined ${v}`);
  } finally {
    await r.release();
  }
});

test('the shipped refiners were trained on the training volumes only, none of the evaluation volumes', async () => {
  const train = (await readdir(TRAIN)).filter((f) => f.endsWith('.nii.gz'));
  const evaluation = (await readdir(EVAL)).filter((f) => f.endsWith('.nii.gz'));
  for (const refiner of [SHIPPED_REFINER, SHIPPED_SHORT_REFINER]) {
    const data = await trainingData(join(REPO, refiner));
    assert.ok(data.length >= 3, `${refiner} training data ${data}`);
    for (const f of data) assert.ok(train.includes(f), `${refiner}: ${f} is a training volume`);
    for (const f of evaluation) assert.ok(!data.includes(f), `${refiner}: ${f} (evaluation) is not in its data`);
  }
});
