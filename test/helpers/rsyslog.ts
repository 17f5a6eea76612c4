// Debian's rsyslog as a real syslog collector for the audit tests: the test's own process
// (rsyslogd -n), a gtls TCP listener (RFC 5425, anonymous client authentication) and a UDP
// listener (RFC 5426), writing each message's input module, APP-NAME, MSGID and whole MSG on one line.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './serve.js';
import { waitForPort } from './peers.js';

/** Development CA and a server certificate for localhost / 127.0.0.1 (certs/make-dev-certs.sh). */
export function makeCerts(dir: string): { ca: string; cert: string; key: string } {
  const r = spawnSync('bash', [join(ROOT, 'certs/make-dev-certs.sh'), dir, 'localhost'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`make-dev-certs.sh failed: ${r.stderr}`);
  return { ca: join(dir, 'ca.crt'), cert: join(dir, 'server.crt'), key: join(dir, 'server.key') };
}

export interface Rsyslog {
  process: ChildProcess;
  /** Received lines so far: { app, msgid, msg }. */
  messages(): { input: string; app: string; msgid: string; msg: string }[];
  stop(): Promise<void>;
}

export async function startRsyslog(dir: string, o: { tlsPort: number; udpPort: number; certs: { ca: string; cert: string; key: string } }): Promise<Rsyslog> {
  mkdirSync(dir, { recursive: true });
  const out = join(dir, 'messages.log');
  const conf = join(dir, 'rsyslog.conf');
  writeFileSync(
    conf,
    [
      `global(workDirectory="${dir}" maxMessageSize="64k" DefaultNetstreamDriver="gtls"`,
      `  DefaultNetstreamDriverCAFile="${o.certs.ca}" DefaultNetstreamDriverCertFile="${o.certs.cert}" DefaultNetstreamDriverKeyFile="${o.certs.key}")`,
      'module(load="imtcp" StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.AuthMode="anon")',
      `input(type="imtcp" port="${o.tlsPort}" address="127.0.0.1")`,
      'module(load="imudp")',
      `input(type="imudp" port="${o.udpPort}" address="127.0.0.1")`,
      'template(name="raw" type="string" string="%inputname% %app-name% %msgid% %msg%\\n")',
      `*.* action(type="omfile" file="${out}" template="raw")`,
    ].join('\n'),
  );
  const child = spawn('rsyslogd', ['-n', '-f', conf, '-i', join(dir, 'rsyslogd.pid')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout!.on('data', (d) => (log += d));
  child.stderr!.on('data', (d) => (log += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await Promise.race([waitForPort(o.tlsPort), exited.then(() => Promise.reject(new Error(`rsyslogd exited: ${log}`)))]);
  return {
    process: child,
    messages() {
      if (!existsSync(out)) return [];
      return readFileSync(out, 'utf8')
        .split('\n')
        .filter((l) => l.trim())
        .map((l) => {
          const [input, app, msgid, ...rest] = l.split(' ');
          return { input, app, msgid, msg: rest.join(' ') };
        });
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}
