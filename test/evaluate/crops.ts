// Helpers for the `interslice eval` tests: small crops of the evaluation volumes as NIfTI files,
// and the real command line run as a child process.
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadVolume, type Volume } from '../../src/evaluate/index.js';
import { REPO, SHARED } from '../training/py.js';
import { SHIPPED_MODEL } from '../../src/interpolate/model/shipped.js';

const run = promisify(execFile);
export const EVAL = join(SHARED, 'data', 'mr-3d', 'eval');
export const MODEL = join(REPO, SHIPPED_MODEL);
const CLI = join(REPO, 'bin', 'interslice.js');

/** A float32 NIfTI-1 file of a sub-block of `v` (slices s0.., rows r0.., cols c0..). */
export function niftiCrop(v: Volume, s0: number, ns: number, r0: number, nr: number, c0: number, nc: number): Buffer {
  const buf = Buffer.alloc(352 + ns * nr * nc * 4);
  buf.writeInt32LE(348, 0);
  [3, nc, nr, ns, 1, 1, 1, 1].forEach((d, i) => buf.writeInt16LE(d, 40 + 2 * i));
  buf.writeInt16LE(16, 70); // float32
  buf.writeInt16LE(32, 72);
  [1, v.spacing[2], v.spacing[1], v.spacing[0], 1, 1, 1, 1].forEach((d, i) => buf.writeFloatLE(d, 76 + 4 * i));
  buf.writeFloatLE(352, 108);
  buf.writeFloatLE(1, 112);
  buf.write('n+1\0', 344, 'latin1');
  let o = 352;
  for (let s = s0; s < s0 + ns; s++)
    for (let r = r0; r < r0 + nr; r++)
      for (let c = c0; c < c0 + nc; c++, o += 4) buf.writeFloatLE(v.data[(s * v.rows + r) * v.cols + c], o);
  return buf;
}

/** 25 central slices of a 96 x 80 block around the middle of an evaluation volume (brain, not just background), written into `dir`. */
export async function centralCrop(dir: string, name: string): Promise<string> {
  const v = loadVolume(join(EVAL, `${name}.nii.gz`));
  const path = join(dir, `${name}-crop.nii`);
  await writeFile(path, niftiCrop(v, 58, 25, 32, 96, 22, 80));
  return path;
}

/** `interslice eval ARGS` through bin/interslice.js: exit code, stdout, stderr. */
export async function evalCli(args: string[], env: NodeJS.ProcessEnv = process.env, timeoutMs = 120_000): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, 'eval', ...args], { cwd: REPO, timeout: timeoutMs, maxBuffer: 16 << 20, env });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : 1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}
