// Named fail points for the crash harness (test/hardening/crash.test.ts). A fail point is a
// line in the code where a test may ask the process to die as kill -9 would, so the test can
// show what survives. Off unless INTERSLICE_FAILPOINTS names it; never set it in production.
//
//   INTERSLICE_FAILPOINTS=mid-send:30            die on the 30th pass through 'mid-send'
//   INTERSLICE_FAILPOINTS=store-before-ack:6,after-ack-before-enqueue
//
// A name without ":N" fires on its first pass.

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

function parse(spec: string | undefined): Map<string, number> {
  const armed = new Map<string, number>();
  for (const part of (spec ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
    const [name, n] = part.split(':');
    armed.set(name, n ? Math.max(1, Number(n) || 1) : 1);
  }
  return armed;
}

const armed = parse(process.env.INTERSLICE_FAILPOINTS);
const passes = new Map<string, number>();

/** Kills this process with SIGKILL when `name` is armed and this is its N-th pass. */
export function failpoint(name: FailpointName): void {
  if (armed.size === 0) return;
  const at = armed.get(name);
  if (at === undefined) return;
  const n = (passes.get(name) ?? 0) + 1;
  passes.set(name, n);
  if (n < at) return;
  // Written synchronously so the harness can tell which fail point fired.
  process.stderr.write(`${JSON.stringify({ level: 'error', message: 'failpoint fired', failpoint: name, pass: n })}\n`);
  process.kill(process.pid, 'SIGKILL');
}
