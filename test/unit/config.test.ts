// Configuration: the shipped file validates, environment overrides follow the documented
// scheme, and every problem names its key.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig } from '../../src/config/load.js';

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
    assert.deepEqual(config.destinations, [{ name: 'pacs', aeTitle: 'PACS', host: '10.1.2.3', port: 4243, rejectSuperseded: false }]);
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

  it('a missing or unparsable file is a ConfigError naming the file', () => {
    assert.match(problems(() => loadConfig(join(dir, 'nope.yaml'), {}))[0], /cannot read/);
    const broken = join(dir, 'broken.yaml');
    writeFileSync(broken, 'dicom: [unclosed');
    assert.match(problems(() => loadConfig(broken, {}))[0], /YAML syntax/);
  });
});
