// HAProxy (Debian's) as the TCP load balancer in front of several receivers: round robin over
// the backends, each health-checked by a TCP connect, as deploy/cluster/haproxy.cfg does.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, waitForPort } from './peers.js';

export interface Haproxy {
  port: number;
  output(): string;
  stop(): Promise<void>;
}

export async function startHaproxy(dir: string, backends: number[]): Promise<Haproxy> {
  const port = await freePort();
  const cfg = join(dir, 'haproxy.cfg');
  writeFileSync(
    cfg,
    [
      'global',
      '  maxconn 256',
      'defaults',
      '  mode tcp',
      '  timeout connect 5s',
      '  timeout client 120s',
      '  timeout server 120s',
      'frontend dicom',
      `  bind 127.0.0.1:${port}`,
      '  default_backend receivers',
      'backend receivers',
      '  balance roundrobin',
      ...backends.map((p, i) => `  server r${i + 1} 127.0.0.1:${p} check inter 2s`),
      '',
    ].join('\n'),
  );
  const child = spawn('haproxy', ['-db', '-f', cfg], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TCP_NODELAY: '1' } });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  await Promise.race([waitForPort(port), exited.then(() => Promise.reject(new Error(`haproxy exited: ${out}`)))]);
  return {
    port,
    output: () => out,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}
