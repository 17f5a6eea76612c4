// The structural walk run before a C-STORE success: every real instance of ../shared/data/mr
// passes (classic, Enhanced, private sequences, compressed), damaged copies do not.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { checkStoredStructure, MalformedDataset } from '../../src/receive/check/structure-check.js';
import { readFileMeta } from '../../src/send/file-dataset.js';
import { MR_DIR, runTool } from '../helpers/peers.js';

const IMPLICIT = '1.2.840.10008.1.2';

function allFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) return n === 'LICENSES' ? [] : allFiles(p);
    return n.endsWith('.md') ? [] : [p];
  });
}

describe('structure check of stored instances', () => {
  const work = mkdtempSync(join(tmpdir(), 'interslice-structure-'));
  after(() => rmSync(work, { recursive: true, force: true }));
  const asl = allFiles(join(MR_DIR, 'siemens-asl-6mm-thick-7.5mm-spacing'))[0];

  it('passes every real instance of the shared data', async () => {
    const files = allFiles(MR_DIR);
    assert.ok(files.length > 600);
    for (const f of files) await checkStoredStructure(f, readFileMeta(f).transferSyntaxUid !== IMPLICIT);
  });

  it('passes an encapsulated (JPEG-LS) instance', async () => {
    const out = join(work, 'jls.dcm');
    assert.equal((await runTool('dcmcjpls', [asl, out])).code, 0);
    await checkStoredStructure(out, true);
  });

  it('fails truncated files and wrong element lengths, naming the element', async () => {
    const bytes = readFileSync(asl);
    const cut = join(work, 'cut.dcm');
    writeFileSync(cut, bytes.subarray(0, bytes.length - 100));
    await assert.rejects(checkStoredStructure(cut, true), (e) => e instanceof MalformedDataset && /truncated: element \(7FE0,0010\)/.test(e.message));
    const longer = Buffer.from(bytes);
    const meta = 144 + longer.readUInt32LE(140);
    // (0008,0060) Modality: declare far more bytes than the file has.
    const at = longer.indexOf(Buffer.from([0x08, 0x00, 0x60, 0x00]), meta);
    longer.writeUInt16LE(0xfff0, at + 6);
    const bad = join(work, 'bad.dcm');
    writeFileSync(bad, longer);
    await assert.rejects(checkStoredStructure(bad, true), MalformedDataset);
  });
});
