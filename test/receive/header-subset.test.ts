// The receive path hands the header parsers only the top-level attributes they read
// (INSTANCE_META_KEYWORDS / BASIC_META_KEYWORDS, picked out by the structural walk). Two checks
// over every real file in ../shared/data/mr, four vendors, classic and Enhanced MR:
//  1. each keyword list holds every top-level attribute its reader touches (a Proxy records
//     the reads), so an attribute added to a reader without its keyword fails here;
//  2. through ReceivedCheck, with the dataset cut into uneven network chunks, the reduced
//     parse (read by the flat-header reader where it can) gives exactly what dcmjs's parse of
//     the whole header gives (or fails with the same message).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { INSTANCE_META_KEYWORDS, instanceMetaFromDataset, parseInstanceMeta } from '../../src/assemble/instance-meta.js';
import { parsePart10, tagsOfKeywords, TransferSyntax, type NaturalDataset, type ParsedDicom } from '../../src/dicom/dcmjs.js';
import { parseFlatHeader } from '../../src/dicom/flat-header.js';
import { BASIC_META_KEYWORDS, basicMeta, parseBasicMeta } from '../../src/receive/check/read-meta.js';
import { checkFailed, ReceivedCheck } from '../../src/receive/check/received-check.js';

const MR = fileURLToPath(new URL('../../../shared/data/mr/', import.meta.url));

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) return n === 'LICENSES' ? [] : files(p);
    return n.endsWith('.md') ? [] : [p];
  });
}

const ALL = files(MR).sort();

/** Header bytes (Part-10 head and dataset up to Pixel Data) and where the dataset starts. */
function split(buf: Buffer) {
  const datasetAt = 144 + buf.readUInt32LE(140); // (0002,0000) group length value at 140
  const pd = buf.indexOf(Buffer.from([0xe0, 0x7f, 0x10, 0x00]), datasetAt);
  return { head: buf.subarray(0, datasetAt), dataset: buf.subarray(datasetAt), header: buf.subarray(0, pd < 0 ? buf.length : pd) };
}

/** Runs `read` over a dataset whose top-level property reads are recorded. */
function topLevelReads(ds: NaturalDataset, read: (ds: NaturalDataset) => unknown): Set<string> {
  const seen = new Set<string>();
  const spy = new Proxy(ds, {
    get(target, key, receiver) {
      if (typeof key === 'string') seen.add(key);
      return Reflect.get(target, key, receiver);
    },
  });
  try {
    read(spy);
  } catch {
    // a reader that refuses the instance has still read what it needed to decide
  }
  return seen;
}

test('the real MR corpus is there (628 DICOM files)', () => {
  assert.ok(ALL.length >= 600, `${ALL.length} files under ${MR}`);
});

test('keyword lists cover every top-level attribute the header readers read', () => {
  const missing = { instance: new Set<string>(), basic: new Set<string>() };
  for (const path of ALL) {
    const parsed = parsePart10(split(readFileSync(path)).header, { headerOnly: true, lenient: true });
    for (const k of topLevelReads(parsed.dataset, (ds) => instanceMetaFromDataset(ds, path, parsed.transferSyntaxUid))) {
      if (!(INSTANCE_META_KEYWORDS as readonly string[]).includes(k)) missing.instance.add(k);
    }
    for (const k of topLevelReads(parsed.dataset, (ds) => basicMeta({ ...parsed, dataset: ds }, path))) {
      if (!(BASIC_META_KEYWORDS as readonly string[]).includes(k)) missing.basic.add(k);
    }
  }
  assert.deepEqual([...missing.instance], [], 'read by instanceMetaFromDataset, not in INSTANCE_META_KEYWORDS');
  assert.deepEqual([...missing.basic], [], 'read by basicMeta, not in BASIC_META_KEYWORDS');
});

test('tagsOfKeywords: dictionary tags, Specific Character Set always, unknown keywords refused', () => {
  assert.deepEqual([...tagsOfKeywords(['SOPInstanceUID', 'PerFrameFunctionalGroupsSequence'])].sort(), [0x00080005, 0x00080018, 0x52009230].sort());
  assert.throws(() => tagsOfKeywords(['SOPInstanceUid']), /unknown DICOM keyword SOPInstanceUid/);
});

/** Cuts a buffer into chunks of 1 .. 40,000 bytes (deterministic), as a network would. */
function chunks(buf: Buffer, seed: number): Buffer[] {
  const out: Buffer[] = [];
  let x = seed;
  for (let at = 0; at < buf.length; ) {
    x = (x * 1103515245 + 12345) % 2147483648;
    const n = 1 + (x % 40_000);
    out.push(buf.subarray(at, at + n));
    at += n;
  }
  return out;
}

const outcome = (f: () => unknown) => {
  try {
    return { ok: f() };
  } catch (e) {
    return { error: (e as Error).message };
  }
};

for (const [name, parse, keywords, reference] of [
  ['parseInstanceMeta', parseInstanceMeta, INSTANCE_META_KEYWORDS, (p: ParsedDicom) => instanceMetaFromDataset(p.dataset, 'x', p.transferSyntaxUid)],
  ['parseBasicMeta', parseBasicMeta, BASIC_META_KEYWORDS, (p: ParsedDicom) => basicMeta(p, 'x')],
] as const) {
  test(`${name} on the attributes it reads equals dcmjs on the whole header, every real file`, async () => {
    const reads = tagsOfKeywords(keywords);
    let compared = 0;
    let flat = 0;
    let reducedBytes = 0;
    let wholeBytes = 0;
    for (const [i, path] of ALL.entries()) {
      const buf = readFileSync(path);
      const { head, dataset, header } = split(buf);
      const ts = parsePart10(header, { headerOnly: true, lenient: true }).transferSyntaxUid;
      if (ts !== TransferSyntax.ExplicitVRLittleEndian && ts !== TransferSyntax.ImplicitVRLittleEndian) continue;
      let seen = 0;
      const check = new ReceivedCheck(ts === TransferSyntax.ExplicitVRLittleEndian, head, (h) => {
        seen = h.length;
        if (parseFlatHeader(h)) flat++;
        return parse(h, 'x');
      }, reads);
      for (const c of chunks(dataset, i + 1)) check.push(c);
      const got = await check.finish();
      assert.ok(got && !checkFailed(got.structure), `${path}: structural walk failed`);
      const reduced = checkFailed(got.meta) ? { error: (got.meta.error as Error).message } : { ok: got.meta };
      const whole = outcome(() => reference(parsePart10(header, { headerOnly: true, lenient: name === 'parseBasicMeta' })));
      assert.deepEqual(reduced, whole, path);
      compared++;
      reducedBytes += seen;
      wholeBytes += header.length;
    }
    assert.ok(compared >= 600, `${compared} files compared`);
    // Most real headers reduce to what the flat reader takes (Enhanced MR's groups go to dcmjs).
    assert.ok(flat >= compared * 0.8, `flat reader took ${flat} of ${compared}`);
    // The point of it: the parse sees a fraction of the header bytes.
    assert.ok(reducedBytes < wholeBytes / 4, `parsed ${reducedBytes} of ${wholeBytes} header bytes`);
  });
}
