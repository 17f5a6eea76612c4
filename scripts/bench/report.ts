// BENCHMARKS.md from the measured results: tables of medians, the bars, and the conditions.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { Machine } from './machine.js';
import type { ReceiveResult } from './receive.js';
import type { InterpolateResult } from './interpolate.js';
import type { E2eRow } from './e2e.js';
import type { MemoryRow } from './memory.js';
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
    L.push('A 24-slice 512x512 series at 5 mm pushed by storescu, derived at 1 mm (116 slices) and delivered to DCMTK storescp. *Processing* = from the start of the series job, i.e. the last instance received with the quiet period excluded, to the last derived instance acknowledged by storescp (node log timestamps: `series job started` to `series delivered`). *Raw* = from the last `instance stored` to `series delivered`, which also holds stableSeconds (1 s here), the node\'s 1 s guard and its 250 ms job poll.', '');
    L.push('| method | provider | processing s | raw s | instances delivered | node peak RSS MB |', '|---|---|---|---|---|---|');
    for (const row of r.e2e) L.push(`| ${row.method} | ${row.provider} | ${spread(row.processing)} | ${spread(row.raw)} | ${row.derived} | ${fmt(row.peakMb, 0)} |`);
    L.push('');
    for (const row of r.e2e) bars.push(`| 24-slice 512² end to end ≤ 30 s on CPU (${row.method}) | ${fmt(median(row.processing))} s | ${yes(median(row.processing) <= 30)} |`);
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
  if (bars.length) {
    L.push('## Bars', '', '| bar | measured | |', '|---|---|---|', ...bars, '');
  }
  return L.join('\n');
}
