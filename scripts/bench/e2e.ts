// (c) End to end: a 24-slice 512^2 series at 5 mm pushed by storescu to the node (target 1 mm,
// 116 slices out), delivered to storescp; the model also at 4 mm (93 out), where the short-gap
// refiner runs instead of the general one. Measured from the node's own log timestamps:
//   processing = "series delivered" - "series job started": the last instance received to the
//                last derived instance acknowledged by storescp, quiet period excluded;
//   raw        = "series delivered" - last "instance stored" (includes stableSeconds = 1 and
//                the node's 1 s guard and 250 ms job poll).
// One node per method (model loaded once, as in service); a new series (new UIDs) per run.
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { peakRssMb } from './machine.js';
import { logTime as ts, startNode, startStorescp, storescu } from './peers.js';
import { writeSeries } from './series.js';

export interface E2eCase {
  method: string;
  spacingMm: number;
}

export interface E2eRow extends E2eCase {
  provider: string;
  processing: number[];
  raw: number[];
  derived: number;
  /** VmHWM of the node after all runs (model session included). */
  peakMb: number;
}

export async function benchE2e(work: string, cases: E2eCase[], runs: number, say: (s: string) => void): Promise<E2eRow[]> {
  const rows: E2eRow[] = [];
  for (const { method, spacingMm } of cases) {
    const scpDir = join(work, `e2e-scp-${method}-${spacingMm}`);
    const scp = await startStorescp(scpDir);
    const node = await startNode(join(work, `e2e-node-${method}-${spacingMm}`), `{ stableSeconds: 1, targetSpacingMm: 1.0, method: ${method} }`, scp.port);
    const loaded = node.logs.find((l) => l.message === 'interpolation model loaded');
    const row: E2eRow = { method, spacingMm, provider: loaded ? String(loaded.executionProvider) : 'js', processing: [], raw: [], derived: 0, peakMb: NaN };
    try {
      for (let r = 0; r < runs; r++) {
        const data = join(work, `e2e-data-${method}-${spacingMm}-${r}`);
        const series = await writeSeries({ dir: data, count: 24, rows: 512, cols: 512, spacingMm });
        await storescu(node.port, data, 'INTERSLICE');
        const uid = series.seriesInstanceUid;
        const started = await node.waitFor((l) => l.message === 'series job started' && l.seriesInstanceUid === uid, 60_000);
        const finished = await node.waitFor((l) => l.message === 'series job finished' && l.seriesInstanceUid === uid, 900_000);
        const delivered = await node.waitFor((l) => l.message === 'series delivered' && ts(l) >= ts(finished), 300_000);
        const lastStored = Math.max(...node.logs.filter((l) => l.message === 'instance stored' && l.seriesInstanceUid === uid).map(ts));
        row.processing.push((ts(delivered) - ts(started)) / 1000);
        row.raw.push((ts(delivered) - lastStored) / 1000);
        row.derived = Number(delivered.files ?? 0);
        say(`e2e ${method} ${spacingMm} mm run ${r + 1}/${runs}: ${row.processing[r].toFixed(1)} s (raw ${row.raw[r].toFixed(1)} s, ${row.derived} instances delivered)`);
        rmSync(data, { recursive: true, force: true });
      }
      row.derived = readdirSync(scpDir).length / runs;
      row.peakMb = peakRssMb(node.child.pid!);
    } finally {
      await node.stop();
      await scp.stop();
      rmSync(scpDir, { recursive: true, force: true });
      rmSync(join(work, `e2e-node-${method}-${spacingMm}`), { recursive: true, force: true });
    }
    rows.push(row);
  }
  return rows;
}
