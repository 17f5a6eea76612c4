// `interslice echo HOST PORT`: C-ECHO, prints the outcome, exit code 0 only on success.
import { echo } from '../send/scu.js';

export async function echoCommand(host: string, port: number, opts: { aet: string; calledAet: string }): Promise<number> {
  const started = Date.now();
  const res = await echo(host, port, { callingAeTitle: opts.aet, calledAeTitle: opts.calledAet });
  const ms = Date.now() - started;
  if (res.ok) {
    console.log(`C-ECHO ${opts.aet} -> ${opts.calledAet}@${host}:${port}: success (${ms} ms)`);
    return 0;
  }
  console.error(`C-ECHO ${opts.aet} -> ${opts.calledAet}@${host}:${port}: failed: ${res.error ?? `status 0x${(res.status ?? 0).toString(16)}`}`);
  return 1;
}
