// (d) Memory: peak RSS (VmHWM) of the node process receiving and processing series of 100, 500
// and 2,000 instances of 512^2 16-bit MR, sent on to storescp. A series is made of 20-slice
// stacks at 5 mm told apart by EchoNumbers (each derived on its own, factor 2), so its size
// grows with the instance count while each stack stays a realistic volume. Peak after receiving
// (read as storescu finishes, inside a 5 s quiet period) and peak at the end are both reported.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { peakRssMb } from './machine.js';
import { startNode, startStorescp, storescu } from './peers.js';
import { writeSeries } from './series.js';

export interface MemoryRow {
  instances: number;
  stacks: number;
  receivePeakMb: number[];
  peakMb: number[];
  seconds: number[];
}

export async function benchMemory(work: string, plan: { instances: number; runs: number }[], say: (s: string) => void): Promise<MemoryRow[]> {
  const rows: MemoryRow[] = [];
  for (const { instances, runs } of plan) {
    const data = join(work, `mem-data-${instances}`);
    const series = await writeSeries({ dir: data, count: instances, rows: 512, cols: 512, spacingMm: 5, stackSize: 20 });
    const row: MemoryRow = { instances, stacks: series.stacks, receivePeakMb: [], peakMb: [], seconds: [] };
    for (let r = 0; r < runs; r++) {
      const scpDir = join(work, `mem-scp-${instances}-${r}`);
      const nodeDir = join(work, `mem-node-${instances}-${r}`);
      const scp = await startStorescp(scpDir);
      const node = await startNode(nodeDir, '{ stableSeconds: 5, method: cubic, factor: 2 }', scp.port);
      const pid = node.child.pid!;
      try {
        const t0 = Date.now();
        await storescu(node.port, data, 'INTERSLICE');
        row.receivePeakMb.push(peakRssMb(pid));
        await node.waitFor(() => node.logs.filter((l) => l.message === 'series delivered').length >= series.stacks, 1_800_000);
        row.peakMb.push(peakRssMb(pid));
        row.seconds.push((Date.now() - t0) / 1000);
        say(`memory ${instances} instances run ${r + 1}/${runs}: peak ${row.peakMb[r].toFixed(0)} MB (after receive ${row.receivePeakMb[r].toFixed(0)} MB), ${row.seconds[r].toFixed(0)} s`);
      } finally {
        await node.stop();
        await scp.stop();
        rmSync(scpDir, { recursive: true, force: true });
        rmSync(nodeDir, { recursive: true, force: true });
      }
    }
    rmSync(data, { recursive: true, force: true });
    rows.push(row);
  }
  return rows;
}
