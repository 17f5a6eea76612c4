// Every configuration key the schema knows is documented: in config/default.yaml (with its
// default) and in the README's configuration table. Keeps the two from drifting apart.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { configSchema } from '../../src/config/schema.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** section.key paths (two levels) from the zod schema. */
function keyPaths(): string[] {
  const def = (s: unknown) => (s as { _zod: { def: Record<string, unknown> } })._zod.def;
  const unwrap = (s: unknown): unknown => {
    let d = def(s);
    while (d.innerType) {
      s = d.innerType;
      d = def(s);
    }
    return s;
  };
  const top = def(unwrap(configSchema)).shape as Record<string, unknown>;
  const out: string[] = [];
  for (const [section, schema] of Object.entries(top)) {
    const inner = def(unwrap(schema));
    if (inner.shape) for (const key of Object.keys(inner.shape as object)) out.push(`${section}.${key}`);
    else out.push(section);
  }
  return out;
}

describe('configuration documentation', () => {
  const readme = readFileSync(`${ROOT}README.md`, 'utf8');
  const yaml = readFileSync(`${ROOT}config/default.yaml`, 'utf8');
  const paths = keyPaths();

  it('finds the keys (sanity)', () => {
    assert.ok(paths.includes('dicom.aeTitle') && paths.includes('pipeline.stableSeconds') && paths.includes('destinations'), paths.join());
  });

  it('every key is in the README configuration table', () => {
    const missing = paths.filter((p) => !readme.includes(`| \`${p}\``) && !readme.includes(`| \`${p}.`));
    assert.deepEqual(missing, []);
  });

  it('every key appears in config/default.yaml', () => {
    const missing = paths.filter((p) => !new RegExp(`^\\s*#?\\s*${p.split('.').pop()}:`, 'm').test(yaml));
    assert.deepEqual(missing, []);
  });
});
