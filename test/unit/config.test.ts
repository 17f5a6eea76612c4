// Configuration: the shipped file validates, environment overrides follow the documented
// scheme, and every problem names its key.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { ADAPT_DEFAULT } from '../../src/config/schema.js';

const DEFAULT = fileURLToPath(new URL('../../config/default.yaml', import.meta.url));

function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e.problems;
  }
  assert.fail('expected a ConfigError');
}

describe('configuration', () => {
  const dir = mkdtempSync(join(tmpdir(), 'interslice-config-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('config/default.yaml validates and holds the documented defaults', () => {
    const { config } = loadConfig(DEFAULT, {});
    assert.equal(config.dicom.aeTitle, 'INTERSLICE');
    assert.equal(config.dicom.port, 11112);
    assert.deepEqual(config.dicom.allowedCallers, []);
    assert.equal(config.storage.dir, './var');
    assert.equal(config.pipeline.stableSeconds, 30);
    assert.equal(config.pipeline.targetSpacingMm, 1.0);
    assert.deepEqual(config.destinations, []);
  });

  it('embedded defaults equal the shipped file (no file needed to start)', () => {
    assert.deepEqual(loadConfig(undefined, {}).config, loadConfig(DEFAULT, {}).config);
  });

  it('INTERSLICE__SECTION__KEY overrides, case-insensitive, values read as YAML', () => {
    const { config, envOverrides } = loadConfig(DEFAULT, {
      INTERSLICE__DICOM__PORT: '4242',
      interslice__pipeline__stableseconds: 'ignored: prefix is case-sensitive',
      INTERSLICE__PIPELINE__STABLESECONDS: '5',
      INTERSLICE__DESTINATIONS: '[{name: pacs, aeTitle: PACS, host: 10.1.2.3, port: 104}]',
      INTERSLICE__DESTINATIONS__0__PORT: '4243',
    });
    assert.equal(config.dicom.port, 4242);
    assert.equal(config.pipeline.stableSeconds, 5);
    // A destination without kind is a DICOM (C-STORE) one, as every configuration before STOW-RS.
    assert.deepEqual(config.destinations, [{ name: 'pacs', kind: 'dimse', aeTitle: 'PACS', host: '10.1.2.3', port: 4243, rejectSuperseded: false, storageCommitment: false }]);
    assert.equal(envOverrides.length, 4);
  });

  it('every problem names the key and what is allowed', () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'dicom: { aeTitle: "A TITLE THAT IS FAR TOO LONG", port: 70000 }\npipeline: { method: nearest }\nbogus: 1\n');
    const p = problems(() => loadConfig(file, {}));
    assert.ok(p.some((x) => x.startsWith('dicom.aeTitle:')), p.join('\n'));
    assert.ok(p.some((x) => x.startsWith('dicom.port:')), p.join('\n'));
    assert.ok(p.some((x) => x.startsWith('pipeline.method:') && /cubic/.test(x)), p.join('\n'));
    assert.ok(p.some((x) => /bogus/.test(x)), p.join('\n'));
  });

  it('pipeline.adapt, adaptSeconds and adaptMaxThickness: defaults, values, and what a bad one says', () => {
    const { config } = loadConfig(DEFAULT, {});
    assert.equal(config.pipeline.adapt, ADAPT_DEFAULT);
    assert.equal(config.pipeline.adapt, 'none');
    assert.equal(config.pipeline.adaptSeconds, 60);
    assert.equal(config.pipeline.adaptMaxThickness, 0.75);
    assert.equal(loadConfig(DEFAULT, { INTERSLICE__PIPELINE__ADAPTMAXTHICKNESS: '1.5' }).config.pipeline.adaptMaxThickness, 1.5);
    for (const mode of ['none', 'series', 'auto'] as const) {
      const c = loadConfig(DEFAULT, { INTERSLICE__PIPELINE__ADAPT: mode, INTERSLICE__PIPELINE__ADAPTSECONDS: '20' }).config;
      assert.equal(c.pipeline.adapt, mode);
      assert.equal(c.pipeline.adaptSeconds, 20);
    }
    const file = join(dir, 'bad-adapt.yaml');
    writeFileSync(file, 'pipeline: { adapt: always, adaptSeconds: 0, adaptMaxThickness: -1 }\n');
    const p = problems(() => loadConfig(file, {}));
    assert.ok(p.some((x) => x.startsWith('pipeline.adapt:') && /none/.test(x) && /series/.test(x) && /auto/.test(x)), p.join('\n'));
    assert.ok(p.some((x) => x.startsWith('pipeline.adaptSeconds:') && />=\s*1/.test(x)), p.join('\n'));
    assert.ok(p.some((x) => x.startsWith('pipeline.adaptMaxThickness:') && />=\s*0/.test(x)), p.join('\n'));
    const q = problems(() => loadConfig(DEFAULT, { INTERSLICE__PIPELINE__ADAPTSECONDS: 'soon' }));
    assert.ok(q.some((x) => x.startsWith('pipeline.adaptSeconds:')), q.join('\n'));
  });

  it('an environment override is validated like the file', () => {
    const p = problems(() => loadConfig(DEFAULT, { INTERSLICE__DICOM__PORT: 'eleven' }));
    assert.ok(p.some((x) => x.startsWith('dicom.port:')), p.join('\n'));
  });

  it('duplicate destination names are refused', () => {
    const p = problems(() =>
      loadConfig(DEFAULT, { INTERSLICE__DESTINATIONS: '[{name: a, aeTitle: A, host: h, port: 1}, {name: a, aeTitle: B, host: h, port: 2}]' }),
    );
    assert.ok(p.some((x) => /duplicate destination name/.test(x)), p.join('\n'));
  });

  it('a STOW-RS destination: url, auth from one source, batchSize 20 by default', () => {
    const env = (d: string) => ({ INTERSLICE__DESTINATIONS: `[${d}]` });
    const { config } = loadConfig(DEFAULT, env('{name: web, kind: stowrs, url: "https://pacs:8443/dicom-web/studies", auth: {type: bearer, tokenEnv: T}, tls: {ca: /ca.pem}}'));
    assert.deepEqual(config.destinations, [
      { name: 'web', kind: 'stowrs', url: 'https://pacs:8443/dicom-web/studies', auth: { type: 'bearer', tokenEnv: 'T' }, tls: { ca: '/ca.pem' }, batchSize: 20, rejectSuperseded: false },
    ]);
    const refused = (d: string, key: RegExp) => {
      const p = problems(() => loadConfig(DEFAULT, env(d)));
      assert.ok(p.some((x) => key.test(x)), `${d}\n${p.join('\n')}`);
    };
    refused('{name: web, kind: stowrs}', /^destinations\.0\.url:/);
    refused('{name: web, kind: stowrs, url: "ftp://pacs/x"}', /^destinations\.0\.url:/);
    refused('{name: web, kind: stowrs, url: "http://u:p@pacs/dicom-web/studies"}', /^destinations\.0\.url: no credentials/);
    refused('{name: web, kind: stowrs, url: "http://pacs/s", tls: {ca: /ca.pem}}', /^destinations\.0\.tls: .*https/);
    refused('{name: web, kind: stowrs, url: "http://pacs/s", auth: {type: basic, username: u}}', /^destinations\.0\.auth: .*exactly one of password, passwordFile, passwordEnv/);
    refused('{name: web, kind: stowrs, url: "http://pacs/s", auth: {type: bearer, token: a, tokenFile: /t}}', /^destinations\.0\.auth: .*exactly one/);
    refused('{name: web, kind: stowrs, url: "http://pacs/s", aeTitle: PACS}', /aeTitle/);
    refused('{name: web, kind: stowrs, url: "http://pacs/s", storageCommitment: true}', /storageCommitment/);
    refused('{name: web, kind: stowrs, url: "http://pacs/s", batchSize: 0}', /^destinations\.0\.batchSize:/);
    // A DICOM destination still needs its AE title, host and port; an unknown kind is refused.
    refused('{name: pacs, host: h, port: 104}', /^destinations\.0\.aeTitle:/);
    refused('{name: pacs, kind: dimse, aeTitle: A, host: h}', /^destinations\.0\.port:/);
    refused('{name: pacs, kind: wado, url: "http://pacs/s"}', /^destinations\.0\.kind:/);
  });

  it('a missing or unparsable file is a ConfigError naming the file', () => {
    assert.match(problems(() => loadConfig(join(dir, 'nope.yaml'), {}))[0], /cannot read/);
    const broken = join(dir, 'broken.yaml');
    writeFileSync(broken, 'dicom: [unclosed');
    assert.match(problems(() => loadConfig(broken, {}))[0], /YAML syntax/);
  });
});
