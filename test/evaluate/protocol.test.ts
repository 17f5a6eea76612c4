// The evaluation protocol (../shared/docs/evaluation-protocol.md) in TypeScript: reproduces the
// baseline table, and agrees with the PyTorch path (training/evaluate.py) on the shipped model.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { runEval, runEvalOnVolume, loadVolume, ssim2d, percentile } from '../../src/evaluate/index.js';
import { py, SHARED, CH2, REPO } from '../training/py.js';
import { SHIPPED_MODEL, SHIPPED_REFINER, SHIPPED_SHORT_REFINER, SHIPPED_THICK_MODEL } from '../../src/interpolate/model/shipped.js';

const SIEMENS = join(SHARED, 'data', 'mr', 'siemens-t1-sagittal-2mm-isotropic');
const MODEL = join(REPO, SHIPPED_MODEL);
const THICK_MODEL = join(REPO, SHIPPED_THICK_MODEL);
const REFINER = join(REPO, SHIPPED_REFINER);
const SHORT_REFINER = join(REPO, SHIPPED_SHORT_REFINER);

test('percentile matches numpy linear interpolation', () => {
  assert.equal(percentile(Float32Array.from([1, 2, 3, 4]), 50), 2.5);
  assert.ok(Math.abs(percentile(Float32Array.from([0, 10]), 99.9) - 9.99) < 1e-9);
});

test('ssim of an image with itself is 1 and drops with noise', () => {
  const rows = 20, cols = 24;
  const x = new Float64Array(rows * cols).map((_, i) => (i * 7919) % 100);
  assert.ok(Math.abs(ssim2d(x, x, rows, cols, 100) - 1) < 1e-12);
  const y = x.map((v, i) => v + ((i * 31) % 11) - 5);
  assert.ok(ssim2d(x, y, rows, cols, 100) < 0.999);
});

// The table in evaluation-protocol.md (PSNR / SSIM). Our implementation reproduces it within a
// few hundredths of a dB (the table's own rounding and implementation noise).
const TABLE: [string, number, 'linear' | 'cubic', number, number][] = [
  [SIEMENS, 2, 'linear', 32.26, 0.9742],
  [SIEMENS, 2, 'cubic', 32.61, 0.9686],
  [SIEMENS, 4, 'linear', 27.92, 0.9485],
  [SIEMENS, 4, 'cubic', 27.96, 0.9336],
  [CH2, 2, 'linear', 35.66, 0.9738],
  [CH2, 2, 'cubic', 38.12, 0.981],
  [CH2, 4, 'linear', 28.92, 0.9091],
  [CH2, 4, 'cubic', 29.4, 0.9127],
];

test('linear and cubic baselines reproduce the protocol table', async () => {
  for (const path of [SIEMENS, CH2]) {
    const vol = loadVolume(path);
    for (const [p, k, method, psnr, ssim] of TABLE) {
      if (p !== path) continue;
      const r = await runEvalOnVolume(vol, { volume: p, factor: k, method });
      console.log(`${p.split('/').pop()} k=${k} ${method}: ${r.psnr.toFixed(3)} / ${r.ssim.toFixed(4)} (table ${psnr} / ${ssim})`);
      assert.ok(Math.abs(r.psnr - psnr) < 0.06, `${method} k=${k} psnr ${r.psnr}`);
      assert.ok(Math.abs(r.ssim - ssim) < 0.0015, `${method} k=${k} ssim ${r.ssim}`);
    }
  }
});

test('TypeScript (onnxruntime-node) and PyTorch evaluation agree within 0.05 dB on the shipped models', async () => {
  // The thick-slice model is the one the node uses for thick stacks: checked on a thick variant.
  for (const [model, k, thick] of [[MODEL, 4, false], [MODEL, 2, true], [THICK_MODEL, 2, true]] as const) {
    assert.ok(existsSync(model), `${model} missing`);
    const args = ['evaluate', SIEMENS, '--factor', String(k), '--method', 'model', '--model', model, '--json'];
    if (thick) args.push('--thick');
    const pyRes = JSON.parse(await py(args, 180_000));
    const tsRes = await runEval({ volume: SIEMENS, factor: k, method: 'model', thick, modelPath: model });
    const d = Math.abs(tsRes.psnr - pyRes.psnr);
    console.log(`siemens k=${k}${thick ? ' thick' : ''} ${model.split('/').pop()}: TS ${tsRes.psnr.toFixed(4)} dB / ${tsRes.ssim.toFixed(5)}, PyTorch ${pyRes.psnr.toFixed(4)} dB / ${pyRes.ssim.toFixed(5)}, |diff| ${d.toExponential(2)} dB`);
    assert.ok(d < 0.05);
    assert.ok(Math.abs(tsRes.ssim - pyRes.ssim) < 1e-3);
  }
  // and the Python linear baseline agrees with the TypeScript one
  const pyLin = JSON.parse(await py(['evaluate', SIEMENS, '--factor', '3', '--method', 'cubic', '--thick', '--json']));
  const tsLin = await runEval({ volume: SIEMENS, factor: 3, method: 'cubic', thick: true });
  assert.ok(Math.abs(pyLin.psnr - tsLin.psnr) < 1e-3, `cubic thick k=3 ${pyLin.psnr} vs ${tsLin.psnr}`);
});

test('with the through-plane refiner: TypeScript and PyTorch agree within 0.05 dB, and the refiner changes the figure', async () => {
  // Each model with the refiner's thick input as the node sets it (the thick model made the stack).
  // Both shipped refiners (the short-gap one is 32 channels, 3x1).
  for (const [model, k, thick, refiner] of [[MODEL, 4, false, REFINER], [THICK_MODEL, 2, true, REFINER], [THICK_MODEL, 4, true, SHORT_REFINER]] as const) {
    const args = ['evaluate', SIEMENS, '--factor', String(k), '--method', 'model', '--model', model, '--refiner', refiner.replace(/\.onnx$/, '.pt'), '--json'];
    if (thick) args.push('--thick');
    const pyRes = JSON.parse(await py(args, 300_000));
    const tsRes = await runEval({ volume: SIEMENS, factor: k, method: 'model', thick, modelPath: model, refinerPath: refiner, refinerThick: thick });
    const alone = await runEval({ volume: SIEMENS, factor: k, method: 'model', thick, modelPath: model });
    const d = Math.abs(tsRes.psnr - pyRes.psnr);
    console.log(`siemens k=${k}${thick ? ' thick' : ''} ${model.split('/').pop()} + ${refiner.split('/').pop()}: TS ${tsRes.psnr.toFixed(4)} dB / ${tsRes.ssim.toFixed(5)}, PyTorch ${pyRes.psnr.toFixed(4)} dB / ${pyRes.ssim.toFixed(5)}, |diff| ${d.toExponential(2)} dB; model alone ${alone.psnr.toFixed(4)} dB / ${alone.ssim.toFixed(5)}`);
    assert.ok(d < 0.05);
    assert.ok(Math.abs(tsRes.ssim - pyRes.ssim) < 1e-3);
    assert.ok(Math.abs(tsRes.psnr - alone.psnr) > 1e-3, 'the refiner ran');
  }
});

