// Processes the benchmark drives, on the test suite's own spawners (test/helpers): `interslice
// serve` with its JSON log lines, DCMTK storescp as the peer receiver / destination (largest
// PDU as the node's), DCMTK storescu as the timed sender. DCMTK tools run with TCP_NODELAY=1.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startStorescp as spawnStorescp, storescu as runStorescu, type Storescp } from '../../test/helpers/peers.js';
import { serve, type LogLine, type Served } from '../../test/helpers/serve.js';

/** The same largest PDU for the node and storescp (DCMTK's maximum). */
export const PDU = 131072;

export type Node = Served;

/** A process of a clustered node: its roles, the database, the lease. */
export interface ClusterProcess {
  roles: string;
  database: string;
  leaseSeconds?: number;
}

/**
 * Starts `interslice serve` with `pipeline` (YAML flow map) and optional destination port; with
 * `cluster`, one process of a clustered node (processes started on the same `work` share its
 * storage.dir).
 */
export function startNode(work: string, pipeline: string, destinationPort?: number, cluster?: ClusterProcess): Promise<Node> {
  mkdirSync(work, { recursive: true });
  return serve({
    work,
    args: cluster ? ['--roles', cluster.roles] : [],
    config: [
      ...(cluster ? [`cluster: { database: ${JSON.stringify(cluster.database)}, leaseSeconds: ${cluster.leaseSeconds ?? 30} }`] : []),
      `dicom: { aeTitle: INTERSLICE, host: 127.0.0.1, port: 0, maxPduLength: ${PDU} }`,
      `storage: { dir: ${JSON.stringify(join(work, 'var'))} }`,
      `pipeline: ${pipeline}`,
      'send: { baseDelaySeconds: 1, maxDelaySeconds: 5 }',
      destinationPort ? `destinations: [ { name: pacs, aeTitle: PACS, host: 127.0.0.1, port: ${destinationPort} } ]` : 'destinations: []',
      'admin: { enabled: false }',
      'log: { level: info }',
    ],
  });
}

export function startStorescp(dir: string, aeTitle = 'PACS'): Promise<Storescp> {
  mkdirSync(dir, { recursive: true });
  return spawnStorescp(dir, { aeTitle, args: ['-pdu', String(PDU)] });
}

/** Pushes a folder with storescu; resolves with the wall time in seconds. */
export async function storescu(port: number, dir: string, calledAe: string): Promise<number> {
  const t0 = process.hrtime.bigint();
  const r = await runStorescu('127.0.0.1', port, [dir], { calledAe, timeoutMs: 3_600_000 });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.code !== 0) throw new Error(`storescu exit ${r.code}: ${r.stderr.slice(-500)}`);
  return seconds;
}

/** A log line's time (ms since the epoch), from winston's timestamp field. */
export const logTime = (l: LogLine): number => Date.parse(String(l.timestamp));
