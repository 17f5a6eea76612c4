// `npm run bench [-- --quick] [-- --only receive,interpolate,e2e,memory,cluster] [-- --out FILE]`
// Measures the node beside DCMTK on this machine and writes BENCHMARKS.md: receive throughput
// vs storescp, interpolation speed per method and execution provider, end-to-end latency of a
// 24-slice 512^2 series, peak RSS for 100/500/2,000-instance series, and (--only cluster, needs
// PostgreSQL) eight series through a clustered node with one and two workers. Every figure is
// the median of several runs. The sections measured replace theirs in BENCHMARKS.md; the others
// are kept (with --only, the header and machine table too). Runs in a private network
// namespace (loopback only), as the tests do. Never part of `npm test`.
import { progressLine } from '../src/core/progress.js';
import { SHIPPED_MODEL } from '../src/interpolate/model/shipped.js';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { load, machine } from './bench/machine.js';
import { benchReceive } from './bench/receive.js';
import { benchInterpolate } from './bench/interpolate.js';
import { benchE2e } from './bench/e2e.js';
import { benchMemory } from './bench/memory.js';
import { benchCluster } from './bench/cluster.js';
import { mergeReport, NOTES_MARKER, report, type BenchResults } from './bench/report.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const args = process.argv.slice(2);
const opt = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};

if (process.env.INTERSLICE_IN_NETNS !== '1') {
  const ns = process.getuid?.() === 0 ? ['-n'] : ['-rn'];
  const probe = spawnSync('unshare', [...ns, 'true']);
  if (probe.status === 0) {
    const r = spawnSync(
      'unshare',
      [...ns, 'env', 'INTERSLICE_IN_NETNS=1', 'bash', '-c', 'ip link set lo up && exec "$@"', '_', process.execPath, '--import', 'tsx', fileURLToPath(import.meta.url), ...args],
      { stdio: 'inherit', cwd: ROOT },
    );
    process.exit(r.status ?? 1);
  }
  console.error('note: cannot create a network namespace; running on the host loopback');
}

const quick = args.includes('--quick');
const only = new Set((opt('--only') ?? 'receive,interpolate,e2e,memory').split(','));
const partial = opt('--only') !== undefined;
const out = opt('--out') ?? join(ROOT, 'BENCHMARKS.md');
const modelPath = opt('--model') ?? join(ROOT, SHIPPED_MODEL);
const work = mkdtempSync(join(tmpdir(), 'interslice-bench-'));
const say = (s: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${s}`);
// One progress line with an ETA as each section starts (sections weighted equally).
const sections = ['receive', 'interpolate', 'e2e', 'memory', 'cluster'].filter((x) => only.has(x));
const benchStart = Date.now();
const section = (name: string) => say(progressLine('bench', sections.indexOf(name), sections.length, Date.now() - benchStart, `next: ${name}`));

const results: BenchResults = { machine: machine(), quick, startedAt: new Date().toISOString(), loads: {}, modelPath };
try {
  if (!existsSync(modelPath)) throw new Error(`model ${modelPath} not found (--model FILE)`);
  if (only.has('receive')) {
    section('receive');
    results.loads.receive = load();
    say(`receive (load ${results.loads.receive})`);
    results.receive = await benchReceive(work, quick ? 100 : 500, quick ? 3 : 5, say);
  }
  if (only.has('interpolate')) {
    section('interpolate');
    results.loads.interpolate = load();
    say(`interpolate (load ${results.loads.interpolate})`);
    results.interpolate = await benchInterpolate(modelPath, quick ? { model: 1, classical: 3 } : { model: 3, classical: 5 }, say);
  }
  if (only.has('e2e')) {
    section('e2e');
    results.loads.e2e = load();
    say(`end to end (load ${results.loads.e2e})`);
    results.e2e = await benchE2e(work, [{ method: 'cubic', spacingMm: 5 }, { method: 'model', spacingMm: 5 }, { method: 'model', spacingMm: 4 }], quick ? 1 : 3, say);
  }
  if (only.has('memory')) {
    section('memory');
    results.loads.memory = load();
    say(`memory (load ${results.loads.memory})`);
    const plan = quick
      ? [{ instances: 100, runs: 1 }, { instances: 500, runs: 1 }]
      : [{ instances: 100, runs: 3 }, { instances: 500, runs: 3 }, { instances: 2000, runs: 2 }];
    results.memory = await benchMemory(work, plan, say);
  }
  if (only.has('cluster')) {
    section('cluster');
    results.loads.cluster = load();
    say(`cluster (load ${results.loads.cluster})`);
    results.cluster = await benchCluster(work, 'model', modelPath, quick ? 1 : 3, say);
  }
  say(progressLine('bench', sections.length, sections.length, Date.now() - benchStart));
  results.loads.end = load();
  results.finishedAt = new Date().toISOString();
  // Hand-written analysis below the marker survives a re-run.
  const [before, notes] = existsSync(out) ? readFileSync(out, 'utf8').split(NOTES_MARKER) : [];
  const text = before ? mergeReport(before, report(results), partial) : report(results);
  writeFileSync(out, text + `\n${NOTES_MARKER}${notes ?? '\n'}`);
  say(`wrote ${out}`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
