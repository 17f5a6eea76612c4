// `interslice serve` end to end with the model: a missing or corrupt model stops start-up with
// exit code 1 and a message naming the file and the remedy; a classical method starts without
// one; SIGHUP with a corrupt replacement keeps the running model.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONTEXT_MODEL, LOCAL_MODEL } from './helpers.js';
import { SHIPPED_REFINER } from '../../src/interpolate/model/shipped.js';

const BIN = fileURLToPath(new URL('../../bin/interslice.js', import.meta.url));
const GENERAL_REFINER = fileURLToPath(new URL(`../../${SHIPPED_REFINER}`, import.meta.url));

function config(work: string, pipeline: string): string {
  const file = join(work, `config-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(
    file,
    [
      'dicom: { aeTitle: INTERSLICE, host: 127.0.0.1, port: 0 }',
      `storage: { dir: ${JSON.stringify(join(work, 'var'))} }`,
      `pipeline: ${pipeline}`,
      'admin: { enabled: false }',
      'destinations: []',
    ].join('\n'),
  );
  return file;
}

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
}

/** A clean stop: exit 0 from the SIGTERM handler, or SIGTERM itself if it came first. */
const stoppedCleanly = (r: Run) => r.code === 0 || r.signal === 'SIGTERM';

/** Runs serve; `whileUp` (if given) runs once "node started" is logged, then SIGTERM. */
function serve(configFile: string, whileUp?: (child: ReturnType<typeof spawn>, output: () => string) => Promise<void>): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'serve', '--config', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let started = false;
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    const onData = (d: Buffer) => {
      output += d.toString();
      if (!started && whileUp && output.includes('"node started"')) {
        started = true;
        whileUp(child, () => output)
          .catch(reject)
          .finally(() => child.kill('SIGTERM'));
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, output });
    });
  });
}

async function waitFor(output: () => string, text: string, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!output().includes(text)) {
    if (Date.now() > end) throw new Error(`"${text}" not logged`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('serve and the model file', () => {
  const work = mkdtempSync(join(tmpdir(), 'interslice-serve-model-'));

  it('a missing model stops start-up with exit code 1 and a clear message', async () => {
    const missing = join(work, 'nope.onnx');
    const r = await serve(config(work, `{ method: model, modelPath: ${JSON.stringify(missing)} }`));
    assert.equal(r.code, 1, r.output);
    assert.match(r.output, /"start-up failed"/);
    assert.ok(r.output.includes(`model file ${missing} cannot be read (ENOENT); configure pipeline.modelPath or a classical pipeline.method`), r.output);
  });

  it('a missing thick-slice model stops start-up too, naming its own key', async () => {
    const missing = join(work, 'no-thick.onnx');
    const r = await serve(config(work, `{ method: model, modelPath: ${JSON.stringify(LOCAL_MODEL)}, thickModelPath: ${JSON.stringify(missing)} }`));
    assert.equal(r.code, 1, r.output);
    assert.ok(r.output.includes(`model file ${missing} cannot be read (ENOENT); configure pipeline.thickModelPath or a classical pipeline.method`), r.output);
  });

  it('a missing refiner stops start-up, naming pipeline.refinerPath; an interpolation model in its place is refused by its inputs', async () => {
    const missing = join(work, 'no-refiner.onnx');
    const r = await serve(config(work, `{ method: model, modelPath: ${JSON.stringify(LOCAL_MODEL)}, refinerPath: ${JSON.stringify(missing)} }`));
    assert.equal(r.code, 1, r.output);
    assert.ok(r.output.includes(`refiner file ${missing} cannot be read (ENOENT); configure pipeline.refinerPath, or null to synthesise without it`), r.output);
    const wrong = await serve(config(work, `{ method: model, modelPath: ${JSON.stringify(LOCAL_MODEL)}, refinerPath: ${JSON.stringify(LOCAL_MODEL)} }`));
    assert.equal(wrong.code, 1, wrong.output);
    assert.match(wrong.output, /refiner file \S+ is not a usable refiner: .*not the expected plane, dist, thick -> out.*; configure a valid pipeline.refinerPath, or null/);
    // in a list, the entry is named
    const second = await serve(config(work, `{ method: model, modelPath: ${JSON.stringify(LOCAL_MODEL)}, refinerPath: [${JSON.stringify(GENERAL_REFINER)}, ${JSON.stringify(missing)}] }`));
    assert.equal(second.code, 1, second.output);
    assert.ok(second.output.includes(`refiner file ${missing} cannot be read (ENOENT); configure pipeline.refinerPath[1], or null to synthesise without it`), second.output);
  });

  it('a corrupt model stops start-up with exit code 1 and a clear message', async () => {
    const bad = join(work, 'corrupt.onnx');
    writeFileSync(bad, Buffer.alloc(4096, 0x5a));
    const r = await serve(config(work, `{ method: model, modelPath: ${JSON.stringify(bad)} }`));
    assert.equal(r.code, 1, r.output);
    assert.ok(r.output.includes(`model file ${bad} is not a usable ONNX model`), r.output);
  });

  it('a classical method starts without a model', async () => {
    const r = await serve(config(work, `{ method: cubic, modelPath: ${JSON.stringify(join(work, 'nope.onnx'))} }`), async () => undefined);
    assert.ok(stoppedCleanly(r), r.output);
    assert.match(r.output, /"method":"cubic"/);
  });

  it('SIGHUP with a corrupt replacement keeps the running model and says why', async () => {
    const path = join(work, 'live.onnx');
    copyFileSync(LOCAL_MODEL, path);
    const r = await serve(config(work, `{ method: model, modelPath: ${JSON.stringify(path)} }`), async (child, output) => {
      writeFileSync(path, Buffer.from('garbage'));
      child.kill('SIGHUP');
      await waitFor(output, '"model reload refused: keeping the current model"');
    });
    assert.ok(stoppedCleanly(r), r.output);
    assert.match(r.output, /"interpolator":"model fixture-local 0\.0\.1 sha256:[0-9a-f]{16}"/);
    assert.match(r.output, /not a usable ONNX model/);
  });

  it('SIGHUP reloads the thick-slice model too: a corrupt replacement is refused under its own key, the other model stays as it is', async () => {
    const path = join(work, 'live-standard.onnx');
    const thick = join(work, 'live-thick.onnx');
    copyFileSync(LOCAL_MODEL, path);
    copyFileSync(CONTEXT_MODEL, thick);
    const r = await serve(config(work, `{ method: model, modelPath: ${JSON.stringify(path)}, thickModelPath: ${JSON.stringify(thick)} }`), async (child, output) => {
      writeFileSync(thick, Buffer.from('garbage'));
      child.kill('SIGHUP');
      await waitFor(output, '"model reload refused: keeping the current model"');
      await waitFor(output, '"model reload: file unchanged, keeping the current session"');
    });
    assert.ok(stoppedCleanly(r), r.output);
    const lines = r.output.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    const started = lines.find((l) => l.message === 'node started')!;
    assert.match(String(started.interpolator), /^model fixture-local 0\.0\.1 sha256:/);
    assert.match(String(started.thickInterpolator), /^model fixture-context \S+ sha256:/);
    assert.equal(started.thickAbove, 0.65);
    // the shipped refiners, by default: the short-gap one first, then the general one, each with its training factors
    const refiners = started.refiners as { refiner: string; factors: number[] | null }[];
    assert.equal(refiners.length, 2, JSON.stringify(refiners));
    assert.match(refiners[0].refiner, /^refiner interslice-refiner-short 1\.0\.0 sha256:[0-9a-f]{16}$/);
    assert.deepEqual(refiners[0].factors, [2, 4]);
    assert.match(refiners[1].refiner, /^refiner interslice-refiner 1\.0\.0 sha256:[0-9a-f]{16}$/);
    assert.deepEqual(refiners[1].factors, [2, 3, 4, 5, 6]);
    const refused = lines.find((l) => l.message === 'model reload refused: keeping the current model')!;
    assert.deepEqual([refused.configKey, refused.path], ['pipeline.thickModelPath', thick]);
    assert.match(String(refused.reason), /not a usable ONNX model/);
    const unchanged = lines.find((l) => l.message === 'model reload: file unchanged, keeping the current session')!;
    assert.deepEqual([unchanged.configKey, unchanged.path], ['pipeline.modelPath', path]);
  });
});
