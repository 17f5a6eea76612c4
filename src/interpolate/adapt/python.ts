// The Python that runs the training package (training/, `python3 -m training ...`), shared by
// `interslice finetune` and the node's per-series adaptation: which python, whether it imports
// what a command needs (each missing module named with the Debian package that provides it),
// and running it from the repository root with its output split into lines, under a hard
// timeout that kills the whole process group.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The repository root: `python3 -m training` is run from here. */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** The Python that runs the training package: INTERSLICE_PYTHON, else Debian's /usr/bin/python3. */
export const python = () => process.env.INTERSLICE_PYTHON || '/usr/bin/python3';

type ModuleList = [module: string, debianPackage: string][];

/** What `python -m training finetune-self` and `export` import, with the Debian package of each. */
export const FINETUNE_MODULES: ModuleList = [
  ['torch', 'python3-torch'],
  ['numpy', 'python3-numpy'],
  ['scipy', 'python3-scipy'],
  ['pydicom', 'python3-pydicom'],
  ['onnx', 'python3-onnx'],
];

/** What `python -m training adapt-series` imports (it reads raw float32, never DICOM). */
export const ADAPT_MODULES: ModuleList = FINETUNE_MODULES.filter(([m]) => m !== 'pydicom');

/** Output lines kept per run, shown when it fails. */
const TAIL_LINES = 40;

export interface PythonRun {
  code: number;
  /** the last TAIL_LINES lines of stdout and stderr, in the order they came */
  tail: string[];
  /** killed after timeoutMs */
  timedOut: boolean;
}

export interface RunPythonOptions {
  /** Kill the process group (SIGKILL) after this long; the run then ends with timedOut. */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

/** Runs `python ARGS` from the repository root; each output line goes to `onLine`. Rejects only when it cannot start. */
export function runPython(args: string[], onLine: (line: string) => void, opts: RunPythonOptions = {}): Promise<PythonRun> {
  return new Promise((resolveRun, reject) => {
    // Its own process group, so a timeout also ends whatever it started (torch's workers).
    const child = spawn(python(), args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: opts.timeoutMs !== undefined, env: opts.env ?? process.env });
    const tail: string[] = [];
    let timedOut = false;
    const killGroup = () => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    };
    const timer = opts.timeoutMs === undefined ? undefined : setTimeout(() => {
      timedOut = true;
      killGroup();
    }, opts.timeoutMs);
    // A group of its own outlives us: it ends when this process exits.
    if (opts.timeoutMs !== undefined) process.once('exit', killGroup);
    const done = () => {
      clearTimeout(timer);
      process.off('exit', killGroup);
    };
    const line = (l: string) => {
      tail.push(l);
      if (tail.length > TAIL_LINES) tail.shift();
      onLine(l);
    };
    const split = (buf: { rest: string }) => (d: Buffer) => {
      const parts = (buf.rest + d.toString()).split('\n');
      buf.rest = parts.pop() ?? '';
      parts.filter((l) => l.trim()).forEach(line);
    };
    const out = { rest: '' };
    const err = { rest: '' };
    child.stdout.on('data', split(out));
    child.stderr.on('data', split(err));
    child.on('error', (e) => {
      done();
      reject(e);
    });
    child.on('close', (code) => {
      done();
      [out.rest, err.rest].filter((l) => l.trim()).forEach(line);
      resolveRun({ code: code ?? 1, tail, timedOut });
    });
  });
}

/** python -m training ARGS. */
export function runTraining(args: string[], onLine: (line: string) => void, opts?: RunPythonOptions): Promise<PythonRun> {
  return runPython(['-m', 'training', ...args], onLine, opts);
}

export interface PythonProblem {
  /** One line for logs and /readyz, e.g. "PyTorch (python3-torch) cannot be imported". */
  summary: string;
  /** With the error and how to fix it. */
  detail: string;
}

const MODULE_NAMES: Record<string, string> = { torch: 'PyTorch' };

/**
 * Whether the Python imports `modules`; the problems (none: ready), each naming the missing
 * module and the Debian package that provides it.
 */
export async function checkPython(modules: ModuleList): Promise<PythonProblem[]> {
  const script = [
    'import importlib, json',
    'missing = {}',
    `for m in ${JSON.stringify(modules.map(([m]) => m))}:`,
    '    try: importlib.import_module(m)',
    '    except Exception as e: missing[m] = "%s: %s" % (type(e).__name__, e)',
    'print("INTERSLICE-CHECK " + json.dumps(missing))',
  ].join('\n');
  const py = python();
  let res: PythonRun;
  try {
    res = await runPython(['-c', script], () => undefined, { timeoutMs: 120_000 });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const summary = code === 'ENOENT' ? `python3 not found at ${py}` : `cannot run ${py} (${code ?? (e as Error).message})`;
    return [{ summary, detail: `cannot run ${py} (${(e as Error).message}): install Python 3 (apt-get install python3) or set INTERSLICE_PYTHON to a python3 that has the packages below` }];
  }
  const report = res.tail.find((l) => l.startsWith('INTERSLICE-CHECK '));
  if (res.code !== 0 || !report) {
    const why = res.timedOut ? 'timed out' : `exit ${res.code}`;
    return [{ summary: `${py} -c failed (${why})`, detail: `${py} -c failed (${why}):\n${res.tail.join('\n')}` }];
  }
  const missing = JSON.parse(report.slice('INTERSLICE-CHECK '.length)) as Record<string, string>;
  return modules
    .filter(([m]) => m in missing)
    .map(([m, pkg]) => ({
      summary: `${MODULE_NAMES[m] ?? m} (${pkg}) cannot be imported by ${py}`,
      detail: `module ${m} cannot be imported (${missing[m]}); install it with: apt-get install ${pkg}`,
    }));
}
