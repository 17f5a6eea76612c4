// BENCHMARKS.md from the measured results: tables of medians, the bars, and the conditions.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { Machine } from './machine.js';
import type { ReceiveResult } from './receive.js';
import type { InterpolateResult } from './interpolate.js';
import type { E2eRow } from './e2e.js';
import type { MemoryRow } from './memory.js';
import { CLUSTER_SERIES, type ClusterResult } from './cluster.js';
import { fmt, median, spread } from './stats.js';
import { readOnnxMetadata } from '../../src/interpolate/model/metadata.js';

export interface BenchResults {
  machine: Machine;
  quick: boolean;
  startedAt: string;
  finishedAt?: string;
  loads: Record<string, string>;
  modelPath: string;
  receive?: ReceiveResult;
  interpolate?: InterpolateResult;
  e2e?: E2eRow[];
  memory?: MemoryRow[];
  cluster?: ClusterResult;
}

/** Text after this line in BENCHMARKS.md is kept when the benchmark rewrites the file. */
export const NOTES_MARKER = '<!-- notes: everything below this line is hand-written and kept by npm run bench -->';

const yes = (ok: boolean) => (ok ? '**met**' : '**not met**');

export function report(r: BenchResults): string {
  const m = r.machine;
  const bytes = readFileSync(r.modelPath);
  const meta = readOnnxMetadata(bytes);
  const sha = createHash('sha256').update(bytes).digest('hex');
  const L: string[] = [];
  const bars: string[] = [];
  L.push('# Benchmarks', '');
  L.push(`Written by \`npm run bench${r.quick ? ' -- --quick' : ''}\` (scripts/bench.ts) from ${r.startedAt} to ${r.finishedAt ?? '?'}. Every figure is the median of the runs shown (min-max in brackets); peers were measured in the same run, alternating with the node. Run in a private network namespace (loopback only).`, '');
  L.push('## Machine', '');
  L.push('| | |', '|---|---|');
  L.push(`| CPU | ${m.cpu} |`, `| cores | ${m.cores} |`, `| RAM | ${m.ramGb} GB |`, `| OS | ${m.kernel} |`, `| Node.js | ${m.node} |`, `| onnxruntime-node | ${m.onnxruntime} |`);
  L.push(`| load average (1/5/15 min) | ${Object.entries(r.loads).map(([k, v]) => `${k}: ${v}`).join('; ')} |`);
  L.push(`| model | ${basename(r.modelPath)}: ${meta.name ?? '?'} ${meta.version ?? '?'}, sha256 ${sha.slice(0, 16)}, ${meta.parameters ?? '?'} parameters |`, '');
  L.push('The load averages above are what else the machine was doing at the start of each section (a 2-core VM whose disk and CPU are shared with other guests), so absolute figures drift from run to run: compare ratios of peers measured in the same run rather than absolute values.', '');

  if (r.receive) {
    const x = r.receive;
    const mb = x.bytes / 1e6;
    const node = median(x.nodeSeconds);
    const scp = median(x.scpSeconds);
    const ratio = scp / node;
    L.push('## (a) Receive', '');
    L.push(`${x.count} instances of 512x512 16-bit MR (${fmt(mb, 1)} MB of Part-10 files, real anatomy resampled from ../shared/data/mr/siemens-t1-sagittal-2mm-isotropic, new UIDs) pushed by DCMTK \`storescu +sd\` (TCP_NODELAY=1, one association), largest PDU 131072 on both receivers. Time = storescu wall clock (its file reading is in both figures). The node fsyncs each instance before answering; storescp does not.`, '');
    L.push('| receiver | seconds | instances/s | MB/s |', '|---|---|---|---|');
    L.push(`| interslice serve | ${spread(x.nodeSeconds, 2)} | ${fmt(x.count / node, 0)} | ${fmt(mb / node, 1)} |`);
    L.push(`| DCMTK storescp | ${spread(x.scpSeconds, 2)} | ${fmt(x.count / scp, 0)} | ${fmt(mb / scp, 1)} |`, '');
    L.push(`Ratio node / storescp MB/s: **${fmt(ratio, 2)}**.`, '');
    bars.push(`| receive ≥ 0.7x storescp MB/s | ${fmt(ratio, 2)}x | ${yes(ratio >= 0.7)} |`);
  }
  if (r.interpolate) {
    const x = r.interpolate;
    L.push('## (b) Interpolate', '');
    L.push('Synthesised slices per second, in-process: a 6-slice stack at 5 mm, factor 5 (20 new slices), real MR content. Classical methods are the node\'s TypeScript implementations; the model runs through src/interpolate/engine (batched, maxBatchPixels 524288, untiled at these sizes).', '');
    L.push('| method | provider | 256x256 slices/s | 512x512 slices/s |', '|---|---|---|---|');
    const keys = [...new Set(x.rows.map((row) => `${row.method}|${row.provider}`))];
    for (const k of keys) {
      const [method, provider] = k.split('|');
      const at = (size: number) => x.rows.find((row) => row.method === method && row.provider === provider && row.size === size);
      const cell = (size: number) => (at(size) ? spread(at(size)!.rates, 2) : 'n/a');
      L.push(`| ${method} | ${provider} | ${cell(256)} | ${cell(512)} |`);
    }
    L.push('');
    for (const u of x.unavailable) L.push(`- ${u.provider}: not available here: ${u.reason}`);
    L.push('');
  }
  if (r.e2e) {
    L.push('## (c) End to end', '');
    L.push('A 24-slice 512x512 series at 5 mm (and 4 mm) pushed by storescu, derived at 1 mm (116 slices; 93) and delivered to DCMTK storescp. *Processing* = from the start of the series job, i.e. the last instance received with the quiet period excluded, to the last derived instance acknowledged by storescp (node log timestamps: `series job started` to `series delivered`). *Raw* = from the last `instance stored` to `series delivered`, which also holds stableSeconds (1 s here), the node\'s 1 s guard and its 250 ms job poll.', '');
    L.push('| method | spacing mm | provider | processing s | raw s | instances delivered | node peak RSS MB |', '|---|---|---|---|---|---|---|');
    for (const row of r.e2e) L.push(`| ${row.method} | ${row.spacingMm ?? 5} | ${row.provider} | ${spread(row.processing)} | ${spread(row.raw)} | ${row.derived} | ${fmt(row.peakMb, 0)} |`);
    L.push('');
    for (const row of r.e2e) bars.push(`| 24-slice 512² ${row.spacingMm ?? 5} mm end to end ≤ 30 s on CPU (${row.method}) | ${fmt(median(row.processing))} s | ${yes(median(row.processing) <= 30)} |`);
  }
  if (r.memory) {
    L.push('## (d) Memory', '');
    L.push('Peak RSS (VmHWM of the node process) receiving and processing one series of N 512x512 16-bit instances, made of 20-slice stacks at 5 mm (told apart by EchoNumbers), cubic, factor 2, sent on to storescp. "After receive" is read when storescu finishes, inside a 5 s quiet period.', '');
    L.push('| instances | stacks | peak after receive MB | peak MB | seconds |', '|---|---|---|---|---|');
    for (const row of r.memory) L.push(`| ${row.instances} | ${row.stacks} | ${spread(row.receivePeakMb, 0)} | ${spread(row.peakMb, 0)} | ${spread(row.seconds, 0)} |`);
    L.push('');
    const peaks = r.memory.map((row) => median(row.peakMb));
    const max = Math.max(...peaks);
    const flat = max <= 1.25 * Math.min(...peaks);
    bars.push(`| peak RSS < 1 GB | ${fmt(max, 0)} MB | ${yes(max < 1024)} |`);
    bars.push(`| peak RSS flat from ${r.memory[0].instances} to ${r.memory[r.memory.length - 1].instances} instances (largest ≤ 1.25x smallest) | ${peaks.map((p) => fmt(p, 0)).join(' / ')} MB | ${yes(flat)} |`);
  }
  if (r.cluster) {
    const x = r.cluster;
    const S = CLUSTER_SERIES;
    L.push('## (e) Cluster', '');
    L.push(`Measured by \`npm run bench -- --only cluster${r.quick ? ' --quick' : ''}\` from ${r.startedAt} to ${r.finishedAt ?? '?'}, load average at the start ${r.loads.cluster ?? '?'}; \`os.cpus().length\` = ${x.cpus}. ${S.series} series of ${S.slices} slices, ${S.cols}x${S.rows} at ${S.spacingMm} mm (real anatomy resampled from ../shared/data/mr/siemens-t1-sagittal-2mm-isotropic, new UIDs per copy), pushed at once by ${S.series} DCMTK storescu (one association each, dealt in turn to the receivers, as a round-robin balancer would) to a clustered node: two receivers (\`serve --roles receive\`) and one or two workers (\`serve --roles process,send\`), all on one PostgreSQL 15 (a throw-away cluster on this machine, fsync off) and one storage.dir on the local disk. Method ${x.method} (${x.provider}), derived at ${S.targetMm} mm, stableSeconds 1. Time = from the first push to the last derived instance acknowledged by DCMTK storescp (the last \`series delivered\` logged by any worker); *push* = to the last storescu done. The two configurations ran side by side (each its own database, storage.dir and storescp), alternating run by run.`, '');
    L.push('| workers | receivers | seconds | push s | derived instances per run | series jobs per worker |', '|---|---|---|---|---|---|');
    for (const row of x.rows) L.push(`| ${row.workers} | ${row.receivers} | ${spread(row.seconds)} | ${spread(row.pushSeconds)} | ${row.derived} | ${row.jobsPerWorker.join(' + ')} |`);
    L.push('');
    const one = x.rows.find((row) => row.workers === 1);
    const two = x.rows.find((row) => row.workers === 2);
    if (one && two) L.push(`Ratio one worker / two workers (medians): **${fmt(median(one.seconds) / median(two.seconds), 2)}** (2 would be linear scaling; every process shares this machine's ${x.cpus} CPUs).`, '');
  }
  if (bars.length) {
    L.push('## Bars', '', '| bar | measured | |', '|---|---|---|', ...bars, '');
  }
  return L.join('\n');
}

/** Splits a report into what stands before its first `## ` heading and its sections (each from its heading on). */
function sectionsOf(text: string): { head: string; sections: string[] } {
  const parts = text.split(/\n(?=## )/);
  return { head: parts[0], sections: parts.slice(1) };
}

const headingOf = (section: string) => section.split('\n')[0];
/** '## (c) End to end' -> '(c)'; other headings stand for themselves. */
const keyOf = (section: string) => /^## (\([a-z]\))/.exec(section)?.[1] ?? headingOf(section);

/** Bar rows of both, the fresh ones replacing old rows of the same bar. */
function mergeBars(old: string, fresh: string): string {
  const rows = (s: string) => s.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| bar |'));
  const bar = (row: string) => row.split(' | ')[0];
  const freshRows = rows(fresh);
  const kept = rows(old).filter((o) => !freshRows.some((f) => bar(f) === bar(o)));
  return ['## Bars', '', '| bar | measured | |', '|---|---|---|', ...kept, ...freshRows, ''].join('\n');
}

/**
 * A report of the sections just measured merged into the previous BENCHMARKS.md text (notes
 * excluded): measured sections (a), (b), ... replace theirs, the others are kept, in letter
 * order; bar rows likewise. `partial` (--only) keeps the previous header and machine table,
 * which describe the full run; each section says when it was measured.
 */
export function mergeReport(previous: string, fresh: string, partial: boolean): string {
  const old = sectionsOf(previous.trimEnd() + '\n');
  const now = sectionsOf(fresh);
  const byKey = new Map<string, string>();
  for (const s of old.sections) byKey.set(keyOf(s), s.trimEnd() + '\n');
  for (const s of now.sections) {
    if (partial && keyOf(s) === '## Machine') continue;
    byKey.set(keyOf(s), keyOf(s) === '## Bars' && byKey.has('## Bars') ? mergeBars(byKey.get('## Bars')!, s) : s.trimEnd() + '\n');
  }
  const lettered = [...byKey.keys()].filter((k) => k.startsWith('(')).sort();
  const order = ['## Machine', ...lettered, '## Bars', ...[...byKey.keys()].filter((k) => !k.startsWith('(') && k !== '## Machine' && k !== '## Bars')];
  const head = partial ? old.head : now.head;
  return [head.trimEnd() + '\n', ...order.filter((k) => byKey.has(k)).map((k) => byKey.get(k)!)].join('\n');
}
