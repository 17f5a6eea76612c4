// Named fail points for the crash harness (test/hardening/crash.test.ts). A fail point is a
// line in the code where a test may ask the process to die as kill -9 would, so the test can
// show what survives. Off unless INTERSLICE_FAILPOINTS names it; never set it in production.
//
//   INTERSLICE_FAILPOINTS=mid-send:30            die on the 30th pass through 'mid-send'
//   INTERSLICE_FAILPOINTS=store-before-ack:6,after-ack-before-enqueue
//   INTERSLICE_FAILPOINTS=mid-send@/tmp/f        die on a pass while the file /tmp/f exists
//
// A name without ":N" fires on its first pass.
import { existsSync } from 'node:fs';

/** Every fail point in the code, in the order a series meets them. */
export const FAILPOINTS = [
  'store-before-ack', // instance fsynced in the spool, C-STORE response not yet sent
  'after-ack-before-enqueue', // response sent, series job not yet (re)queued
  'mid-series-job', // interpolation done, derived series not yet written
  'mid-derive-write', // some derived files written (counted per file)
  'after-outbox-enqueue', // derived series queued for sending, nothing sent
  'mid-send', // some instances acknowledged by the destination (counted per response)
] as const;

export type FailpointName = (typeof FAILPOINTS)[number];

/** One armed name of a spec: "name", "name:N" (count N) or "name@FILE" (while FILE exists). */
interface Armed {
  count?: number;
  whileFile?: string;
}

/** Both environment variables share one syntax: comma-separated "name[:N|@FILE]". */
function parseSpec(spec: string | undefined): Map<string, Armed> {
  const out = new Map<string, Armed>();
  for (const part of (spec ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
    const at = part.indexOf('@');
    if (at > 0) out.set(part.slice(0, at), { whileFile: part.slice(at + 1) });
    else {
      const [name, n] = part.split(':');
      out.set(name, { count: n ? Math.max(1, Number(n) || 1) : undefined });
    }
  }
  return out;
}

const armed = parseSpec(process.env.INTERSLICE_FAILPOINTS);
const passes = new Map<string, number>();

/** Kills this process with SIGKILL when `name` is armed and this is its N-th pass. */
export function failpoint(name: FailpointName): void {
  if (armed.size === 0) return;
  const spec = armed.get(name);
  if (spec === undefined) return;
  // "name@FILE": armed while FILE exists (several processes armed, the first to pass dies, the test disarms the rest).
  if (spec.whileFile !== undefined && !existsSync(spec.whileFile)) return;
  const n = (passes.get(name) ?? 0) + 1;
  passes.set(name, n);
  if (n < (spec.count ?? 1)) return;
  // Written synchronously so the harness can tell which fail point fired.
  process.stderr.write(`${JSON.stringify({ level: 'error', message: 'failpoint fired', failpoint: name, pass: n })}\n`);
  process.kill(process.pid, 'SIGKILL');
}

// Faults: named places where a test may make the process fail as a real fault would (a full
// disk, an inference runtime error) without dying, to show that the job fails, is retried and
// recovers. Off unless INTERSLICE_FAULTS names them; never set it in production.
//
//   INTERSLICE_FAULTS=derive-disk-full:2        the first 2 passes fail, then the fault clears
//   INTERSLICE_FAULTS=inference-error@/tmp/f    every pass fails while the file /tmp/f exists

export const FAULTS = [
  'derive-disk-full', // writing a derived series: ENOSPC, as a full disk gives
  'inference-error', // running the interpolator: an inference runtime error
  'uncaught-exception', // once the node has started: an exception nothing catches
] as const;

export type FaultName = (typeof FAULTS)[number];

const faults = parseSpec(process.env.INTERSLICE_FAULTS);
const faultPasses = new Map<string, number>();

/** The error a real occurrence of the fault gives. */
function faultError(name: FaultName): Error {
  if (name === 'derive-disk-full') {
    return Object.assign(new Error('ENOSPC: no space left on device, write (fault derive-disk-full)'), { code: 'ENOSPC', errno: -28, syscall: 'write' });
  }
  if (name === 'uncaught-exception') return new Error('uncaught exception (fault uncaught-exception)');
  return new Error('inference runtime error: Non-zero status code returned while running Conv node (fault inference-error)');
}

/** Throws the fault's error when `name` is armed and active. */
export function fault(name: FaultName): void {
  if (faults.size === 0) return;
  const spec = faults.get(name);
  if (!spec) return;
  const n = (faultPasses.get(name) ?? 0) + 1;
  faultPasses.set(name, n);
  // Without ":N" or "@FILE" a fault stays active (a fail point fires once: it kills the process).
  const active = spec.whileFile !== undefined ? existsSync(spec.whileFile) : n <= (spec.count ?? Infinity);
  if (!active) return;
  process.stderr.write(`${JSON.stringify({ level: 'warn', message: 'fault injected', fault: name, pass: n })}\n`);
  throw faultError(name);
}
