// `interslice finetune` checks its Python before it trains and shows what a failing step printed:
// the real command, with INTERSLICE_PYTHON pointing at a python3 that lacks a module.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO } from './py.js';

let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'interslice-finetune-cli-'));
  await mkdir(join(dir, 'empty'));
  // A python3 where `import onnx` fails as it does when python3-onnx is not installed.
  await mkdir(join(dir, 'hide'));
  await writeFile(join(dir, 'hide', 'onnx.py'), 'raise ModuleNotFoundError("No module named \'onnx\'", name="onnx")\n');
  await writeFile(join(dir, 'python3'), `#!/bin/sh\nPYTHONPATH="${join(dir, 'hide')}" exec /usr/bin/python3 "$@"\n`);
  await chmod(join(dir, 'python3'), 0o755);
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function finetune(env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [join(REPO, 'bin', 'interslice.js'), 'finetune', '--from', join(dir, 'empty'), '--out', join(dir, 'new.onnx'), '--minutes', '0.1'],
      { cwd: REPO, timeout: 120_000, env: { ...process.env, OMP_NUM_THREADS: '2', ...env } },
      (err, stdout, stderr) => done({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

test('a python3 without onnx: finetune names the module and its package and stops before training', async () => {
  const r = await finetune({ INTERSLICE_PYTHON: join(dir, 'python3') });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /module onnx cannot be imported \(ModuleNotFoundError: No module named 'onnx'\); install it with: apt-get install python3-onnx/);
  assert.doesNotMatch(r.stderr, /module (torch|numpy|scipy|pydicom) cannot/, 'only onnx is missing');
  assert.match(r.stderr, /apt-get install python3-torch python3-numpy python3-scipy python3-pydicom python3-onnx/);
  assert.doesNotMatch(r.stdout, /finetune 1\/3/, 'no training started');
  assert.ok(!existsSync(join(dir, 'new.onnx')));
});

test('a python that does not exist is named', async () => {
  const r = await finetune({ INTERSLICE_PYTHON: join(dir, 'no-such-python3') });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /cannot run .*no-such-python3/);
  assert.doesNotMatch(r.stdout, /finetune 1\/3/);
});

test('a failing step is reported with its own error output', async () => {
  // The real python3: the check passes, the training stage starts and finds no series to learn from.
  const r = await finetune({ INTERSLICE_PYTHON: '/usr/bin/python3' });
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stdout, /finetune 1\/3/);
  assert.match(r.stderr, /finetune: the training stage failed \(exit 1\); its last output:\n(.*\n)*\s+\| no target series found/);
  assert.ok(!existsSync(join(dir, 'new.onnx')));
});
