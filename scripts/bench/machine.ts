// The machine the benchmark ran on, and its load (the figures are only comparable with both).
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { createRequire } from 'node:module';

export interface Machine {
  cpu: string;
  cores: number;
  ramGb: number;
  node: string;
  onnxruntime: string;
  kernel: string;
}

export function machine(): Machine {
  const require = createRequire(import.meta.url);
  const ortVersion = (require('onnxruntime-node/package.json') as { version: string }).version;
  return {
    cpu: os.cpus()[0]?.model.trim() ?? 'unknown',
    cores: os.availableParallelism(),
    ramGb: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    onnxruntime: ortVersion,
    kernel: `${os.type()} ${os.release()}`,
  };
}

/** Load averages (1, 5, 15 min), as uptime prints them. */
export function load(): string {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    return os.loadavg().map((x) => x.toFixed(2)).join(' ');
  }
}

/** Peak resident set (VmHWM) of a process, in MB. */
export function peakRssMb(pid: number): number {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmHWM:\s+(\d+)\s+kB/);
  return m ? Number(m[1]) / 1024 : NaN;
}
