// The node's side of the per-series trainer (src/interpolate/adapt/trainer.ts) with a stand-in
// python3 (a shell script written here, INTERSLICE_PYTHON): what it is handed (the stack as
// little-endian float32 [n, rows, cols], its shape, the checkpoint beside the model, the budget)
// and what a run that does not give a usable report becomes. The real trainer runs in
// test/e2e/adapt.test.ts.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AdaptFailure, adaptationNote, adaptSeries, baseCheckpoint, parseReport, type AdaptSeriesOptions } from '../../src/interpolate/adapt/trainer.js';
import type { VolumeF32 } from '../../src/core/types.js';

const dir = mkdtempSync(join(tmpdir(), 'interslice-adapt-trainer-'));
const volume: VolumeF32 = {
  rows: 2,
  columns: 3,
  slices: [Float32Array.from([0, 1, 2, 3, 4, 5]), Float32Array.from([-1.5, 0.1, 1e6, 7, 8, 9])],
  distances: [0, 5],
};

/** A stand-in python3 that records its arguments and stack, then runs `body` (sh) with $out set. */
function stand(name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, ['#!/bin/sh', `echo "$@" > ${path}.args`, 'out=""; stack=""',
    'while [ $# -gt 0 ]; do case "$1" in --out) out="$2";; --stack) stack="$2";; esac; shift; done',
    `cp "$stack" ${path}.f32`, 'mkdir -p "$out"', body, ''].join('\n'));
  chmodSync(path, 0o755);
  return path;
}

async function run(python: string, modelPath = join(dir, 'model.onnx'), extra: Partial<AdaptSeriesOptions> = {}) {
  const saved = process.env.INTERSLICE_PYTHON;
  process.env.INTERSLICE_PYTHON = python;
  try {
    return await adaptSeries({ modelPath, volume, work: join(dir, `work-${Math.random().toString(16).slice(2)}`), seconds: 7, threads: 1, version: '2.0.0', ...extra });
  } finally {
    if (saved === undefined) delete process.env.INTERSLICE_PYTHON;
    else process.env.INTERSLICE_PYTHON = saved;
  }
}

const failure = async (p: Promise<unknown>, re: RegExp) => {
  await assert.rejects(p, (e: unknown) => e instanceof AdaptFailure && re.test((e as Error).message));
};

describe('the per-series trainer, seen from the node', () => {
  before(() => writeFileSync(join(dir, 'model.onnx'), 'onnx'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('hands over the stack as little-endian float32 [n, rows, cols] with its shape, budget, version and name', async () => {
    const py = stand('ok', `printf '{"kept": false, "reason": "r", "steps": 2, "gain_db": 0.01}' > "$out/report.json"`);
    const { report } = await run(py, undefined, { name: 'interslice-thick' });
    assert.equal(report.kept, false);
    const bytes = readFileSync(`${py}.f32`);
    assert.deepEqual([...new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4)], [...volume.slices[0], ...volume.slices[1]]);
    assert.equal(bytes.readFloatLE(4 * 7), Math.fround(0.1));
    const args = readFileSync(`${py}.args`, 'utf8');
    assert.match(args, /^-m training adapt-series --init \S+model\.onnx --stack \S+stack\.f32 --shape 2,2,3 --out \S+ --seconds 7 --threads 1 --version 2\.0\.0 --name interslice-thick\n$/);
  });

  it('passes a step limit and --always-export (interslice eval --adapt) only when asked', async () => {
    const py = stand('eval', `printf '{"kept": false, "reason": "r", "steps": 20, "gain_db": -0.1}' > "$out/report.json"`);
    await run(py, join(dir, 'model.onnx'), { steps: 20, alwaysExport: true });
    assert.match(readFileSync(`${py}.args`, 'utf8'), / --version 2\.0\.0 --steps 20 --always-export\n$/);
  });

  it('passes the stack\'s thickness over its spacing and the limit when they are known', async () => {
    const py = stand('thick', `printf '{"kept": false, "reason": "r", "steps": 0}' > "$out/report.json"`);
    await run(py, join(dir, 'model.onnx'), { thickness: 0.8, maxThickness: 0.75 });
    assert.match(readFileSync(`${py}.args`, 'utf8'), / --version 2\.0\.0 --thickness 0\.8000 --max-thickness 0\.75\n$/);
    await run(py, join(dir, 'model.onnx'), { maxThickness: 0.75 });
    assert.match(readFileSync(`${py}.args`, 'utf8'), / --version 2\.0\.0 --max-thickness 0\.75\n$/, 'unknown thickness: the limit alone (the trainer refuses)');
  });

  it('starts from the PyTorch checkpoint beside the model when there is one', () => {
    assert.equal(baseCheckpoint(join(dir, 'model.onnx')), join(dir, 'model.onnx'));
    writeFileSync(join(dir, 'model.pt'), 'pt');
    assert.equal(baseCheckpoint(join(dir, 'model.onnx')), join(dir, 'model.pt'));
    rmSync(join(dir, 'model.pt'));
  });

  it('exit 0 without report.json, an unreadable report, or a kept report without a model: failures with the reason', async () => {
    await failure(run(stand('silent', 'exit 0')), /the trainer wrote no report\.json \(ENOENT\)/);
    await failure(run(stand('garbled', `echo 'kept: yes' > "$out/report.json"`)), /report\.json is not JSON/);
    await failure(run(stand('nokept', `echo '{"steps": 1}' > "$out/report.json"`)), /no boolean "kept"/);
    await failure(run(stand('nomodel', `echo '{"kept": true, "steps": 1, "gain_db": 0.3}' > "$out/report.json"`)), /wrote no model\.onnx/);
    await failure(run(stand('crash', 'echo "Traceback: boom" >&2; exit 3')), /the trainer exited with code 3: Traceback: boom/);
    await failure(run(join(dir, 'no-such-python3')), /could not be started \(ENOENT\)/);
  });

  it('words the outcome for DerivationDescription', () => {
    assert.equal(adaptationNote(parseReport('{"kept": true, "steps": 40, "gain_db": 0.214, "reason": "x"}')),
      'adapted to this series (self-supervised on its own slices, 40 steps, held-out +0.21 dB)');
    assert.equal(adaptationNote(parseReport('{"kept": false, "steps": 40, "gain_db": -0.0249, "reason": "x"}')), 'adaptation tried, not kept (held-out -0.02 dB)');
    // No step trained: nothing was tried.
    assert.equal(adaptationNote(parseReport('{"kept": false, "steps": 0, "reason": "too few slices to hold a block out (8 < 9)"}')),
      'adaptation not applied (too few slices to hold a block out (8 < 9))');
    assert.throws(() => parseReport('{"kept": true, "steps": 3}'), /without a held-out "gain_db"/);
  });
});
