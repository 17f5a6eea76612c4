// `interslice eval` over several volumes and factors: the real command on two small crops of the
// evaluation volumes prints one table (per volume and factor: linear, cubic, model, the model's
// gain over the better classical method, and the mean row), and each of its figures equals the
// one the single-volume path (runEvalOnVolume) gives for that volume and factor, the through-plane
// refiner included as the node runs it (--refiner none: the model alone).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadVolume, runEvalOnVolume, type EvalMethod, type EvalTable } from '../../src/evaluate/index.js';
import { centralCrop, evalCli as cli, MODEL } from './crops.js';
import { SHIPPED_MODEL, SHIPPED_REFINER, SHIPPED_SHORT_REFINER, SHIPPED_THICK_MODEL as THICK_MODEL_REL } from '../../src/interpolate/model/shipped.js';
import { REPO } from '../training/py.js';

const THICK_MODEL = join(REPO, THICK_MODEL_REL);
// The node's choice by default: the short-gap refiner at factors 2 and 4 (its training factors),
// the general one elsewhere (factor 3 below).
const REFINER = join(REPO, SHIPPED_SHORT_REFINER);
const GENERAL_REFINER = join(REPO, SHIPPED_REFINER);

let dir: string;
let vols: string[];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'interslice-eval-table-'));
  vols = [];
  for (const name of ['stroke-t1-8bit', 'stroke-t2-8bit']) vols.push(await centralCrop(dir, name));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('eval over two volumes and factors 2,4: a table whose figures are the single-volume ones', async () => {
  const json = await cli([...vols, '--factor', '2,4', '--model', MODEL, '--json']);
  assert.equal(json.code, 0, json.stderr);
  const table = JSON.parse(json.stdout) as EvalTable;
  assert.deepEqual(table.methods, ['linear', 'cubic', 'model']);
  assert.deepEqual(table.rows.map((r) => [r.volume, r.factor]), [[vols[0], 2], [vols[0], 4], [vols[1], 2], [vols[1], 4]]);
  assert.deepEqual(table.rows.map((r) => r.refiner), [SHIPPED_SHORT_REFINER, SHIPPED_SHORT_REFINER, SHIPPED_SHORT_REFINER, SHIPPED_SHORT_REFINER]);
  assert.deepEqual(table.refiners, [SHIPPED_SHORT_REFINER, SHIPPED_REFINER]);

  const methods: EvalMethod[] = ['linear', 'cubic', 'model'];
  const expected = new Map<string, Record<EvalMethod, { psnr: number; ssim: number }>>();
  for (const path of vols) {
    const vol = loadVolume(path);
    for (const factor of [2, 4]) {
      const e = {} as Record<EvalMethod, { psnr: number; ssim: number }>;
      for (const method of methods) {
        // thin kept slices: the standard model, so the refiner's thick input is 0
        const r = await runEvalOnVolume(vol, { volume: path, factor, method, modelPath: MODEL, refinerPath: REFINER, refinerThick: false });
        e[method] = { psnr: r.psnr, ssim: r.ssim };
      }
      expected.set(`${path}|${factor}`, e);
    }
  }
  for (const row of table.rows) {
    const e = expected.get(`${row.volume}|${row.factor}`)!;
    for (const m of methods) {
      assert.ok(Math.abs(row.scores[m]!.psnr - e[m].psnr) < 1e-9, `${row.volume} k=${row.factor} ${m} psnr ${row.scores[m]!.psnr} vs ${e[m].psnr}`);
      assert.ok(Math.abs(row.scores[m]!.ssim - e[m].ssim) < 1e-12, `${row.volume} k=${row.factor} ${m} ssim`);
    }
    const bestP = Math.max(e.linear.psnr, e.cubic.psnr);
    const bestS = Math.max(e.linear.ssim, e.cubic.ssim);
    assert.ok(Math.abs(row.gain!.psnr - (e.model.psnr - bestP)) < 1e-9, 'psnr gain over the better classical method');
    assert.ok(Math.abs(row.gain!.ssim - (e.model.ssim - bestS)) < 1e-12, 'ssim gain over the better classical method');
    assert.equal(row.gain!.psnrOver, e.cubic.psnr > e.linear.psnr ? 'cubic' : 'linear');
  }
  // the mean row: the mean over the four rows of the independently computed figures
  const all = [...expected.values()];
  for (const m of methods) {
    const mp = all.reduce((a, e) => a + e[m].psnr, 0) / all.length;
    assert.ok(Math.abs(table.mean.scores[m]!.psnr - mp) < 1e-9, `mean ${m} psnr`);
  }
  const mg = all.reduce((a, e) => a + e.model.psnr - Math.max(e.linear.psnr, e.cubic.psnr), 0) / all.length;
  assert.ok(Math.abs(table.mean.gain!.psnr - mg) < 1e-9, 'mean gain');

  // The text table: a header, one line per volume and factor, the mean line; the figures rounded
  const text = await cli([...vols, '--factor', '2,4', '--model', MODEL]);
  assert.equal(text.code, 0, text.stderr);
  const lines = text.stdout.split('\n');
  assert.match(lines[0], /^volume\s+factor\s+linear PSNR\s+linear SSIM\s+cubic PSNR\s+cubic SSIM\s+model PSNR\s+model SSIM\s+gain PSNR\s+gain SSIM$/);
  const body = lines.slice(1, 6).map((l) => l.split(/\s{2,}/));
  assert.deepEqual(body.slice(0, 4).map((c) => c.slice(0, 2).join(' ')), ['stroke-t1-8bit-crop drop-2', 'stroke-t1-8bit-crop drop-4', 'stroke-t2-8bit-crop drop-2', 'stroke-t2-8bit-crop drop-4']);
  assert.equal(body[4][0], 'mean');
  assert.equal(lines[6], '', 'the table ends after the mean line');
  const e0 = expected.get(`${vols[0]}|2`)!;
  assert.deepEqual(body[0].slice(2, 8), [e0.linear.psnr.toFixed(2), e0.linear.ssim.toFixed(4), e0.cubic.psnr.toFixed(2), e0.cubic.ssim.toFixed(4), e0.model.psnr.toFixed(2), e0.model.ssim.toFixed(4)]);
  const mm = all.reduce((a, e) => a + e.model.psnr, 0) / all.length;
  // the mean line has no factor cell: mean, then linear/cubic/model PSNR and SSIM, then the gains
  assert.equal(body[4][5], mm.toFixed(2));
  assert.equal(body[4][7], `${mg >= 0 ? '+' : ''}${mg.toFixed(2)}`);
});

test('eval with a refiner file that cannot be read: one line naming it, exit 2', async () => {
  const r = await cli([vols[0], '--factor', '2', '--method', 'model', '--refiner', `${REFINER},/nonexistent/refiner.onnx`]);
  assert.equal(r.code, 2, r.stdout);
  assert.match(r.stderr, /^interslice eval: refiner file \/nonexistent\/refiner\.onnx cannot be read \(ENOENT\); --refiner FILE\[,FILE\.\.\.\], or none for the model alone\n$/);
});

test('eval keeps the single-volume usage: one volume, one factor, one method prints one figure', async () => {
  const r = await cli([vols[0], '--factor', '2', '--method', 'cubic', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const res = JSON.parse(r.stdout) as { psnr: number; method: string };
  const direct = await runEvalOnVolume(loadVolume(vols[0]), { volume: vols[0], factor: 2, method: 'cubic' });
  assert.equal(res.method, 'cubic');
  assert.ok(Math.abs(res.psnr - direct.psnr) < 1e-9);
});

test('eval --thick uses the thick-slice model for the model column, as the node would for such kept slices; --thick-model none the standard one', async () => {
  // --thick kept slices are as thick as their spacing (1.0), above the default 0.65.
  const json = await cli([vols[0], '--factor', '4', '--method', 'model', '--thick', '--json']);
  assert.equal(json.code, 0, json.stderr);
  const res = JSON.parse(json.stdout) as { psnr: number; ssim: number };
  const vol = loadVolume(vols[0]);
  const withThick = await runEvalOnVolume(vol, { volume: vols[0], factor: 4, method: 'model', thick: true, modelPath: THICK_MODEL, refinerPath: REFINER, refinerThick: true });
  const withStandard = await runEvalOnVolume(vol, { volume: vols[0], factor: 4, method: 'model', thick: true, modelPath: MODEL, refinerPath: REFINER, refinerThick: false });
  assert.ok(Math.abs(res.psnr - withThick.psnr) < 1e-9, `${res.psnr} vs thick ${withThick.psnr}`);
  // --refiner none: the thick model alone
  const alone = JSON.parse((await cli([vols[0], '--factor', '4', '--method', 'model', '--thick', '--refiner', 'none', '--json'])).stdout) as { psnr: number };
  const thickAlone = await runEvalOnVolume(vol, { volume: vols[0], factor: 4, method: 'model', thick: true, modelPath: THICK_MODEL });
  assert.ok(Math.abs(alone.psnr - thickAlone.psnr) < 1e-9, `${alone.psnr} vs the thick model alone ${thickAlone.psnr}`);
  assert.notEqual(thickAlone.psnr, withThick.psnr, 'the refiner changes the figure');
  // factor 3 is not one the short-gap refiner was trained on: the general one
  const three = JSON.parse((await cli([vols[0], '--factor', '3', '--method', 'model', '--thick', '--json'])).stdout) as { psnr: number };
  const threeGeneral = await runEvalOnVolume(vol, { volume: vols[0], factor: 3, method: 'model', thick: true, modelPath: THICK_MODEL, refinerPath: GENERAL_REFINER, refinerThick: true });
  assert.ok(Math.abs(three.psnr - threeGeneral.psnr) < 1e-9, `${three.psnr} vs the general refiner ${threeGeneral.psnr}`);
  assert.notEqual(withThick.psnr, withStandard.psnr, 'the two models give different figures');
  const table = JSON.parse((await cli([...vols, '--factor', '2,4', '--thick', '--json'])).stdout) as EvalTable;
  assert.deepEqual(table.rows.map((r) => r.model), [THICK_MODEL_REL, THICK_MODEL_REL, THICK_MODEL_REL, THICK_MODEL_REL]);
  assert.deepEqual(table.thickModel, { path: THICK_MODEL_REL, above: 0.65 });
  const off = JSON.parse((await cli([vols[0], '--factor', '4', '--thick', '--thick-model', 'none', '--json'])).stdout) as EvalTable;
  assert.equal(off.rows[0].model, SHIPPED_MODEL);
  assert.ok(Math.abs(off.rows[0].scores.model!.psnr - withStandard.psnr) < 1e-9);
  assert.equal(off.thickModel, undefined);
  // thin kept slices (1/2 and 1/4 of their spacing) stay with the standard model
  const thin = JSON.parse((await cli([vols[0], '--factor', '2,4', '--json'])).stdout) as EvalTable;
  assert.deepEqual(thin.rows.map((r) => r.model), [SHIPPED_MODEL, SHIPPED_MODEL]);
});
