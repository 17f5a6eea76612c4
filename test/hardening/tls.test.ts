// DICOM TLS (BCP 195) end to end with DCMTK: storescu/echoscu +tls push to the node's TLS port
// (plain port disabled, client certificates required), the node sends the derived series to a
// storescp +tls destination. Also refused: no client certificate, plain DICOM on the TLS port,
// TLS below 1.2. Certificates come from certs/make-dev-certs.sh in a temporary folder.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { echoscu, MR_DIR, startStorescp, storescu, type Storescp } from '../helpers/peers.js';
import { ROOT, serve, until, type Served } from '../helpers/serve.js';

const haveOpenssl = (() => {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe('DICOM TLS', { skip: haveOpenssl ? false : 'openssl missing' }, () => {
  const work = mkdtempSync(join(tmpdir(), 'interslice-tls-'));
  const certs = join(work, 'certs');
  const c = (n: string) => join(certs, n);
  let pacs: Storescp;
  let node: Served;
  const tlsArgs = () => ['+tls', c('client.key'), c('client.crt'), '+cf', c('ca.crt')];

  before(async () => {
    execFileSync('bash', [join(ROOT, 'certs/make-dev-certs.sh'), certs], { stdio: 'ignore' });
    mkdirSync(join(work, 'pacs'), { recursive: true });
    // storescp as a TLS destination; it requires our client certificate (DCMTK's default).
    pacs = await startStorescp(join(work, 'pacs'), { args: ['-v', '+tls', c('server.key'), c('server.crt'), '+cf', c('ca.crt')] });
    node = await serve({
      work,
      config: [
        'dicom:',
        '  aeTitle: INTERSLICE',
        '  host: 127.0.0.1',
        '  port: null',
        `  tls: { port: 0, cert: ${c('server.crt')}, key: ${c('server.key')}, ca: ${c('ca.crt')}, requireClientCert: true }`,
        `storage: { dir: ${JSON.stringify(join(work, 'var'))}, minFreeMb: 0 }`,
        'pipeline: { stableSeconds: 1, method: linear }',
        `destinations: [ { name: pacs, aeTitle: PACS, host: 127.0.0.1, port: ${pacs.port}, tls: { ca: ${c('ca.crt')}, cert: ${c('client.crt')}, key: ${c('client.key')} } } ]`,
        'admin: { enabled: false }',
      ],
    });
  });

  after(async () => {
    await node?.stop();
    await pacs?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('listens on TLS only when the plain port is null', () => {
    const started = node.logs.find((l) => l.message === 'node started')!;
    assert.equal(started.plainPort, null);
    assert.equal(started.tlsPort, node.port);
  });

  it('answers C-ECHO over TLS with a client certificate', async () => {
    const r = await echoscu('127.0.0.1', node.port, { args: tlsArgs() });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    await node.waitFor((l) => l.event === 'association-open' && l.tls === true);
  });

  it('refuses a TLS client without a certificate, and plain DICOM on the TLS port', async () => {
    const anonymous = await echoscu('127.0.0.1', node.port, { args: ['+tla', '+cf', c('ca.crt')] });
    assert.notEqual(anonymous.code, 0);
    await node.waitFor((l) => l.event === 'tls-handshake-failed');
    const plain = await echoscu('127.0.0.1', node.port, { timeoutMs: 15_000 });
    assert.notEqual(plain.code, 0);
  });

  it('refuses TLS 1.1 (BCP 195: 1.2 or later)', async () => {
    const err = await new Promise<Error | undefined>((resolve) => {
      const s = tls.connect({
        host: '127.0.0.1', port: node.port, maxVersion: 'TLSv1.1', minVersion: 'TLSv1', ca: readFileSync(c('ca.crt')),
        cert: readFileSync(c('client.crt')), key: readFileSync(c('client.key')), ciphers: 'DEFAULT@SECLEVEL=0',
      });
      s.on('secureConnect', () => (s.destroy(), resolve(undefined)));
      s.on('error', (e) => resolve(e));
    });
    assert.ok(err, 'a TLS 1.1 handshake must fail');
  });

  it('receives a series over TLS and delivers the derived series to a TLS destination', async () => {
    const r = await storescu('127.0.0.1', node.port, [join(MR_DIR, 'siemens-asl-6mm-thick-7.5mm-spacing')], { args: tlsArgs() });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    await until(() => readdirSync(join(work, 'pacs')).length >= 89, 60_000, '89 derived instances over TLS');
    await node.waitFor((l) => l.event === 'send-done');
    assert.equal(readdirSync(join(work, 'pacs')).length, 89);
    assert.match(pacs.output(), /TLS|secure/i);
  });
});
