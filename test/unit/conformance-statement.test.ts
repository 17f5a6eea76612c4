// docs/conformance-statement.md against the code: the SOP classes and transfer syntaxes it says
// the SCP accepts are the receive policy's table (in its order of preference), those it says the
// SCU proposes are what the writers write and the SCU proposes, every limit's default and range
// is what the configuration schema takes, and every character set term it lists is one the
// reader decodes. A SOP class added to the code and not to the document fails here.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DEFAULT_CONTEXTS, EventReportStatus } from '../../src/receive/transport/policy.js';
import { configSchema } from '../../src/config/schema.js';
import { PROPOSED_TRANSFER_SYNTAXES } from '../../src/send/scu.js';
import { DERIVED_SOP_CLASS } from '../../src/derive/tags.js';
import { REJECTION_NOTE_SOP_CLASS } from '../../src/derive/rejection-note.js';
import { SopClass } from '../../src/dicom/dcmjs.js';
import { STORAGE_COMMITMENT_SOP_CLASS } from '../../src/dicom/storage-commitment.js';
import { unknownTerms } from '../../src/dicom/charset.js';

const DOC = readFileSync(fileURLToPath(new URL('../../docs/conformance-statement.md', import.meta.url)), 'utf8');

/** The rows (cells, backticks stripped) of the first table after the line starting with `caption`. */
function table(caption: string): string[][] {
  const lines = DOC.split('\n');
  const at = lines.findIndex((l) => l.startsWith(caption));
  assert.ok(at >= 0, `no "${caption}" in the conformance statement`);
  const start = lines.findIndex((l, i) => i > at && l.startsWith('|'));
  const rows: string[][] = [];
  for (let i = start; i < lines.length && lines[i].startsWith('|'); i++) {
    rows.push(lines[i].slice(1, -1).split('|').map((c) => c.trim().replace(/^`|`$/g, '')));
  }
  assert.ok(rows.length > 2, `table "${caption}" has no rows`);
  assert.match(rows[1][0], /^-+$/, `table "${caption}" has no header separator`);
  return [rows[0], ...rows.slice(2)];
}

const UID = /^\d+(\.\d+)+$/;

describe('conformance statement', () => {
  const scp = table('Table 2.2-1');
  const scpUids = scp.slice(1).map((r) => r[1]);

  it('lists as SCP exactly the SOP classes the receive policy accepts', () => {
    assert.ok(scpUids.every((u) => UID.test(u)), scpUids.join());
    assert.deepEqual([...scpUids].sort(), Object.keys(DEFAULT_CONTEXTS).sort());
  });

  it('lists per SOP class exactly the transfer syntaxes accepted, in the order of preference', () => {
    const [head, ...rows] = table('Table 2.2-2');
    const byName = new Map(scp.slice(1).map((r) => [r[0], r[1]]));
    const columns = head.slice(2);
    assert.deepEqual([...columns].sort(), [...byName.keys()].sort(), 'one column per SCP SOP class');
    columns.forEach((name, c) => {
      const cells = rows.map((r) => r[2 + c]);
      assert.ok(cells.every((v) => v === 'yes' || v === 'no'), `${name}: ${cells.join()}`);
      const listed = rows.filter((_, i) => cells[i] === 'yes').map((r) => r[1]);
      assert.deepEqual(listed, [...DEFAULT_CONTEXTS[byName.get(name)!]], name);
    });
  });

  it('lists as SCU the classes written and Verification, with the syntaxes proposed', () => {
    const scu = table('Table 2.2-3').slice(1).map((r) => r[1]);
    assert.deepEqual([...scu].sort(), [DERIVED_SOP_CLASS, REJECTION_NOTE_SOP_CLASS, SopClass.Verification, STORAGE_COMMITMENT_SOP_CLASS].sort());
    const ts = table('Table 2.2-4').slice(1).map((r) => r[1]);
    assert.deepEqual(ts, [...PROPOSED_TRANSFER_SYNTAXES]);
  });

  it('states each limit with the default and range the configuration schema takes', () => {
    const rows = table('Table 2.2-5').slice(1);
    // The TLS block is optional (null by default): give it its required fields to see its defaults.
    const defaults = configSchema.parse({ dicom: { tls: { cert: 'c.pem', key: 'k.pem' } } }) as unknown as Record<string, unknown>;
    const at = (obj: unknown, path: string[]): unknown => path.reduce((o, k) => (o as Record<string, unknown>)?.[k], obj);
    const withValue = (path: string[], v: number): unknown => {
      const cfg: Record<string, unknown> = { dicom: { tls: { cert: 'c.pem', key: 'k.pem' } } };
      let o = cfg;
      path.slice(0, -1).forEach((k) => (o = (o[k] ??= {}) as Record<string, unknown>));
      o[path[path.length - 1]] = v;
      return cfg;
    };
    const keys = rows.map((r) => r[1]);
    for (const [what, key, def, range] of rows) {
      const path = key.split('.');
      assert.equal(at(defaults, path), Number(def), `${what} (${key}) default`);
      const m = /^(\d+)\s*-\s*(\d*)$/.exec(range);
      if (range === '') {
        assert.equal(configSchema.safeParse(withValue(path, 0)).success, false, `${key}: an unbounded positive value takes no 0`);
        continue;
      }
      assert.ok(m, `${key}: range "${range}"`);
      const [lo, hi] = [Number(m[1]), m[2] === '' ? undefined : Number(m[2])];
      assert.equal(configSchema.safeParse(withValue(path, lo)).success, true, `${key} takes ${lo}`);
      assert.equal(configSchema.safeParse(withValue(path, lo - 1)).success, false, `${key} refuses ${lo - 1}`);
      if (hi !== undefined) {
        assert.equal(configSchema.safeParse(withValue(path, hi)).success, true, `${key} takes ${hi}`);
        assert.equal(configSchema.safeParse(withValue(path, hi + 1)).success, false, `${key} refuses ${hi + 1}`);
      } else {
        assert.equal(configSchema.safeParse(withValue(path, 1e9)).success, true, `${key} has no upper bound`);
      }
    }
    // Every numeric setting of the association layer and of sending is in the table.
    const numeric = (o: unknown, prefix: string): string[] =>
      Object.entries(o as Record<string, unknown>).flatMap(([k, v]) =>
        typeof v === 'number' ? [`${prefix}${k}`] : v && typeof v === 'object' && !Array.isArray(v) ? numeric(v, `${prefix}${k}.`) : [],
      );
    const expected = [...numeric(defaults.dicom, 'dicom.'), ...numeric(defaults.send, 'send.')];
    assert.deepEqual([...keys].sort(), expected.sort());
  });

  it('lists exactly the N-EVENT-REPORT statuses the receive policy answers with', () => {
    const listed = table('Table 2.2-6').slice(1).map((r) => Number(r[0]));
    assert.deepEqual(listed.sort((a, b) => a - b), Object.values(EventReportStatus).sort((a, b) => a - b));
  });

  it('lists only character set terms the reader decodes', () => {
    const terms = table('Table 4-1').slice(1).map((r) => r[0]).filter((t) => !t.startsWith('('));
    assert.ok(terms.length >= 30, terms.join());
    assert.deepEqual(unknownTerms(terms), []);
    assert.deepEqual(unknownTerms(['ISO_IR 999']), ['ISO_IR 999'], 'the reader does refuse unknown terms');
  });
});
