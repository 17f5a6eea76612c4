// Helpers for the training tests: run Debian's system python (python3-torch imports only there).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';

const run = promisify(execFile);
export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SHARED = resolve(REPO, '..', 'shared');
export const PYTHON = process.env.INTERSLICE_PYTHON ?? '/usr/bin/python3';
export const CH2 = '/usr/share/mricron/templates/ch2.nii.gz';

export async function py(args: string[], timeoutMs = 120_000): Promise<string> {
  try {
    const { stdout } = await run(PYTHON, ['-m', 'training', ...args], {
      cwd: REPO,
      timeout: timeoutMs,
      maxBuffer: 64 << 20,
      env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1', OMP_NUM_THREADS: '2' },
    });
    return stdout;
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`python3 -m training ${args.join(' ')} failed: ${err.message}\n${err.stdout ?? ''}\n${err.stderr ?? ''}`);
  }
}
