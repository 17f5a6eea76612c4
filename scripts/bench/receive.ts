// (a) Receive: storescu pushes the same 512x512 16-bit series to the node and to DCMTK storescp,
// alternating peers run by run so load drift hits both alike. The node runs with a long quiet
// period (nothing but receiving happens) and a fresh storage folder each run (a resent
// SOPInstanceUID would be recognised as a duplicate). The node fsyncs every instance before
// answering success; storescp does not.
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startNode, startStorescp, storescu } from './peers.js';
import { writeSeries } from './series.js';

export interface ReceiveResult {
  count: number;
  bytes: number;
  nodeSeconds: number[];
  scpSeconds: number[];
}

export async function benchReceive(work: string, count: number, runs: number, say: (s: string) => void): Promise<ReceiveResult> {
  const data = join(work, 'receive-data');
  const series = await writeSeries({ dir: data, count, rows: 512, cols: 512, spacingMm: 1 });
  const res: ReceiveResult = { count, bytes: series.bytes, nodeSeconds: [], scpSeconds: [] };
  for (let r = 0; r < runs; r++) {
    const nodeDir = join(work, `receive-node-${r}`);
    const node = await startNode(nodeDir, '{ stableSeconds: 3600, method: cubic }');
    try {
      const s = await storescu(node.port, data, 'INTERSLICE');
      const stored = node.logs.filter((l) => l.message === 'instance stored').length;
      if (stored !== count) throw new Error(`node stored ${stored} of ${count} instances`);
      res.nodeSeconds.push(s);
    } finally {
      await node.stop();
      rmSync(nodeDir, { recursive: true, force: true });
    }
    const scpDir = join(work, `receive-scp-${r}`);
    const scp = await startStorescp(scpDir);
    try {
      const s = await storescu(scp.port, data, 'PACS');
      const got = readdirSync(scpDir).length;
      if (got !== count) throw new Error(`storescp stored ${got} of ${count} instances`);
      res.scpSeconds.push(s);
    } finally {
      await scp.stop();
      rmSync(scpDir, { recursive: true, force: true });
    }
    say(`receive run ${r + 1}/${runs}: node ${res.nodeSeconds[r].toFixed(2)} s, storescp ${res.scpSeconds[r].toFixed(2)} s`);
  }
  rmSync(data, { recursive: true, force: true });
  return res;
}
