// The configuration of a node under test (YAML lines for serve()): our AE title on loopback
// and a free port, storage under the test's work folder, a 2 s quiet period, quick send
// retries, no admin port in the way. `pipeline` adds to the quiet period; each destination is
// a DICOM peer on loopback, or a YAML flow mapping as it is (a STOW-RS destination).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { OutboxEntry } from '../../src/send/outbox.js';

export interface TestNodeConfig {
  work: string;
  /** More pipeline keys, YAML flow style without braces, e.g. 'method: linear, factor: 2'. */
  pipeline?: string;
  /** Quiet period (default 2 s). */
  stableSeconds?: number;
  destinations?: ({ name: string; aeTitle: string; port: number } | string)[];
}

export function testNodeConfig(o: TestNodeConfig): string[] {
  const destinations = (o.destinations ?? []).map((d) => (typeof d === 'string' ? d : `{ name: ${d.name}, aeTitle: ${d.aeTitle}, host: 127.0.0.1, port: ${d.port} }`));
  return [
    'dicom: { aeTitle: INTERSLICE, host: 127.0.0.1, port: 0 }',
    `storage: { dir: ${JSON.stringify(join(o.work, 'var'))} }`,
    `pipeline: { stableSeconds: ${o.stableSeconds ?? 2}${o.pipeline ? `, ${o.pipeline}` : ''} }`,
    'send: { baseDelaySeconds: 1, maxDelaySeconds: 5 }',
    `destinations: [ ${destinations.join(', ')} ]`,
    'admin: { port: 0 }',
  ];
}

/** The outbox entries a node under `work` (testNodeConfig's storage.dir) has on disk. */
export function outboxEntries(work: string): OutboxEntry[] {
  const dir = join(work, 'var', 'outbox');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => n.endsWith('.json'))
    .map((n) => JSON.parse(readFileSync(join(dir, n), 'utf8')) as OutboxEntry);
}
