// The one element-header reader (src/dicom/header-reader.ts) and the walkers over it, on a real
// MR file with undefined-length sequences (Explicit VR, and the same converted to Implicit VR
// by DCMTK's dcmconv). Every expected tag, VR, length and UID comes from DCMTK's dcmdump, not
// from the code under test.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { str } from '../../src/dicom/dcmjs.js';
import { parseHeader } from '../../src/dicom/flat-header.js';
import {
  fileMetaValues, HeaderTruncated, metaGroupEnd, PIXEL_DATA, readElementHeader, UNDEFINED_LENGTH,
} from '../../src/dicom/header-reader.js';
import { HeaderScanner } from '../../src/receive/check/header-scan.js';
import { checkDatasetStructure, MalformedDataset } from '../../src/receive/check/structure-check.js';
import { MR_DIR } from '../helpers/peers.js';

/** Philips 2D MR, Explicit VR Little Endian, 24 sequences/items of undefined length. */
const EXPLICIT = join(MR_DIR, 'philips-pcasl-oblique-4mm/1901_0035.dcm');
const tmp = mkdtempSync(join(tmpdir(), 'header-reader-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** The same instance in Implicit VR Little Endian, sequences and items of undefined length. */
const IMPLICIT = join(tmp, 'implicit.dcm');
execFileSync('dcmconv', ['+ti', '-e', EXPLICIT, IMPLICIT]);

interface Dumped {
  tag: number;
  vr: string;
  /** undefined: "u/l" */
  length?: number;
  value: string;
}

/** dcmdump's top-level elements: the file meta group and the dataset. */
function dump(path: string): { meta: Dumped[]; dataset: Dumped[] } {
  const text = execFileSync('dcmdump', ['-q', '-Un', '+L', path], { encoding: 'latin1' });
  const out = { meta: [] as Dumped[], dataset: [] as Dumped[] };
  let into = out.meta;
  for (const line of text.split('\n')) {
    if (line.startsWith('# Dicom-Data-Set')) into = out.dataset;
    const m = /^\(([0-9a-f]{4}),([0-9a-f]{4})\) (\S\S) (.*?)\s*#\s*(u\/l|\d+),/.exec(line);
    if (!m || m[1] === 'fffe') continue; // delimiters, printed at their sequence's level
    into.push({ tag: parseInt(m[1] + m[2], 16), vr: m[3], length: m[5] === 'u/l' ? undefined : Number(m[5]), value: m[4] });
  }
  return out;
}

const bracketed = (d: Dumped | undefined) => /^\[(.*)\]$/.exec(d?.value ?? '')?.[1];

for (const [name, path, explicit] of [['Explicit VR', EXPLICIT, true], ['Implicit VR', IMPLICIT, false]] as const) {
  test(`${name}: file meta, top-level element headers and Pixel Data as dcmdump reads them`, () => {
    const buf = readFileSync(path);
    const { meta, dataset } = dump(path);
    const groupLength = Number(meta.find((d) => d.tag === 0x00020000)!.value);
    const at = metaGroupEnd(buf);
    assert.equal(at, 144 + groupLength);
    const values = fileMetaValues(buf.subarray(144, at));
    assert.equal(values[0x0003], bracketed(meta.find((d) => d.tag === 0x00020003)));
    assert.equal(values[0x0010], bracketed(meta.find((d) => d.tag === 0x00020010)));
    assert.equal(values[0x0010], explicit ? '1.2.840.10008.1.2.1' : '1.2.840.10008.1.2');

    const ds = buf.subarray(at);
    const facts = checkDatasetStructure(ds, explicit, true);
    const header = dataset.filter((d) => d.tag !== PIXEL_DATA);
    assert.ok(header.some((d) => d.length === undefined), 'the file has undefined-length sequences');
    const top = facts.topLevel!;
    assert.deepEqual(top.filter((_, i) => i % 3 === 0), header.map((d) => d.tag));
    for (let i = 0; i < header.length; i++) {
      const h = readElementHeader(ds, top[i * 3 + 1], explicit);
      const want = header[i];
      assert.equal(h.tag, want.tag);
      assert.equal(h.length, want.length ?? UNDEFINED_LENGTH, `length of ${want.tag.toString(16)}`);
      if (explicit) assert.equal(h.vr, want.vr);
      else assert.equal(h.vr, '');
    }
    // Pixel Data is the last element: its value runs to the end of the file.
    const pixels = dataset.find((d) => d.tag === PIXEL_DATA)!;
    assert.equal(facts.pixelData, pixels.length);
    assert.equal(facts.pixelDataAt! + pixels.length!, ds.length);
    const ph = readElementHeader(ds, facts.pixelDataAt! - (explicit ? 12 : 8), explicit);
    assert.equal(ph.tag, PIXEL_DATA);
    assert.equal(ph.length, pixels.length);

    // The header up to Pixel Data parses to the UIDs dcmdump shows.
    const parsed = parseHeader(buf.subarray(0, at + facts.pixelDataAt!), true);
    assert.equal(str(parsed.dataset.SOPInstanceUID), bracketed(dataset.find((d) => d.tag === 0x00080018)));
    assert.equal(parsed.transferSyntaxUid, values[0x0010]);
  });

  test(`${name}: the streaming header scan finds the UIDs across undefined-length sequences`, () => {
    const buf = readFileSync(path);
    const { dataset } = dump(path);
    const ds = buf.subarray(metaGroupEnd(buf));
    const scan = new HeaderScanner(explicit);
    for (let i = 0; i < ds.length && !scan.push(ds.subarray(i, i + 97)); i += 97);
    assert.equal(scan.error, undefined);
    assert.equal(scan.done, true);
    assert.deepEqual(scan.facts, {
      sopClassUid: bracketed(dataset.find((d) => d.tag === 0x00080016)),
      sopInstanceUid: bracketed(dataset.find((d) => d.tag === 0x00080018)),
      studyInstanceUid: bracketed(dataset.find((d) => d.tag === 0x0020000d)),
      seriesInstanceUid: bracketed(dataset.find((d) => d.tag === 0x0020000e)),
    });
  });
}

test('a header cut short: HeaderTruncated says how much was needed; the walkers report it', () => {
  const buf = readFileSync(EXPLICIT);
  const ds = buf.subarray(metaGroupEnd(buf));
  const facts = checkDatasetStructure(ds, true, true);
  const top = facts.topLevel!;
  // The first sequence (SQ: the 12-byte long form) and the element before it (short form).
  const sq = dump(EXPLICIT).dataset.findIndex((d) => d.vr === 'SQ');
  assert.ok(sq > 0);
  const sqStart = top[sq * 3 + 1];
  const shortStart = top[(sq - 1) * 3 + 1];

  assert.throws(() => readElementHeader(ds.subarray(0, shortStart + 5), shortStart, true), (e: unknown) => {
    assert.ok(e instanceof HeaderTruncated);
    assert.equal(e.need, 8);
    assert.equal(e.left, 5);
    return true;
  });
  assert.throws(() => readElementHeader(ds.subarray(0, sqStart + 10), sqStart, true), (e: unknown) => {
    assert.ok(e instanceof HeaderTruncated);
    assert.equal(e.need, 12);
    assert.equal(e.left, 10);
    assert.equal(e.tag, top[sq * 3]);
    assert.equal(e.vr, 'SQ');
    return true;
  });
  // `end` bounds the read below the buffer's length.
  assert.throws(() => readElementHeader(ds, shortStart, true, true, shortStart + 7), HeaderTruncated);

  assert.throws(() => checkDatasetStructure(ds.subarray(0, shortStart + 5), true), (e: unknown) => {
    assert.ok(e instanceof MalformedDataset);
    assert.equal(e.message, 'truncated: element header needs 8 bytes, 5 left');
    return true;
  });
  const tagText = `(${(top[sq * 3] >>> 16).toString(16).padStart(4, '0')},${(top[sq * 3] & 0xffff).toString(16).padStart(4, '0')})`.toUpperCase();
  assert.throws(() => checkDatasetStructure(ds.subarray(0, sqStart + 10), true), {
    message: `truncated: element ${tagText} needs 12 bytes, 10 left`,
  });
  // The streaming scan waits for more, and says so when the dataset ends there.
  const scan = new HeaderScanner(true);
  assert.equal(scan.push(ds.subarray(0, shortStart + 5)), false);
  scan.finish();
  assert.equal(scan.error, 'dataset ends inside an element');
});

test('Explicit VR Big Endian and item tags, from hand-written bytes', () => {
  // (0008,0016) UI, 4 bytes; (7FE0,0010) OW, long form, 16 bytes; an item of undefined length.
  const b = Buffer.from([
    0x00, 0x08, 0x00, 0x16, 0x55, 0x49, 0x00, 0x04, 0x31, 0x2e, 0x32, 0x00,
    0x7f, 0xe0, 0x00, 0x10, 0x4f, 0x57, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10,
    0xff, 0xfe, 0xe0, 0x00, 0xff, 0xff, 0xff, 0xff,
  ]);
  assert.deepEqual(readElementHeader(b, 0, true, false), { tag: 0x00080016, group: 0x0008, element: 0x0016, vr: 'UI', length: 4, headerLength: 8 });
  assert.deepEqual(readElementHeader(b, 12, true, false), { tag: PIXEL_DATA, group: 0x7fe0, element: 0x0010, vr: 'OW', length: 16, headerLength: 12 });
  assert.deepEqual(readElementHeader(b, 24, true, false), { tag: 0xfffee000, group: 0xfffe, element: 0xe000, vr: '', length: UNDEFINED_LENGTH, headerLength: 8 });
});
