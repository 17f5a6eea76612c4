import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readPart10 } from '../../src/dicom/dcmjs.js';
import { HeaderScanner } from '../../src/receive/check/header-scan.js';
import { datasetBytes, MR_DIR } from '../helpers/peers.js';

function scan(bytes: Buffer, explicit: boolean, chunk: number): HeaderScanner {
  const s = new HeaderScanner(explicit);
  for (let i = 0; i < bytes.length && !s.push(bytes.subarray(i, i + chunk)); i += chunk);
  s.finish();
  return s;
}

/** Implicit VR LE element. */
function el(group: number, elem: number, value: Buffer | string, length?: number): Buffer {
  const v = typeof value === 'string' ? Buffer.from(value.length % 2 ? `${value}\0` : value, 'latin1') : value;
  const h = Buffer.alloc(8);
  h.writeUInt16LE(group, 0);
  h.writeUInt16LE(elem, 2);
  h.writeUInt32LE(length ?? v.length, 4);
  return Buffer.concat([h, v]);
}

describe('header scanner', () => {
  it('finds the four UIDs in real Explicit VR datasets, whatever the chunking', async () => {
    for (const folder of ['siemens-asl-6mm-thick-7.5mm-spacing', 'philips-pcasl-oblique-4mm', 'canon-axial-oblique-36deg', 'enhanced']) {
      const name = (await readdir(join(MR_DIR, folder))).find((n) => n.endsWith('.dcm'))!;
      const path = join(MR_DIR, folder, name);
      const { dataset } = await readPart10(path, { headerOnly: true });
      for (const chunk of [1, 7, 16384, 1 << 24]) {
        const s = scan(datasetBytes(path), true, chunk);
        assert.equal(s.error, undefined, `${folder} chunk ${chunk}`);
        assert.deepEqual(s.facts, {
          sopClassUid: dataset.SOPClassUID,
          sopInstanceUid: dataset.SOPInstanceUID,
          studyInstanceUid: dataset.StudyInstanceUID,
          seriesInstanceUid: dataset.SeriesInstanceUID,
        });
      }
    }
  });

  it('walks undefined-length sequences in Implicit VR and stops after the series UID', () => {
    const U = 0xffffffff;
    const bytes = Buffer.concat([
      el(0x0008, 0x0016, '1.2.840.10008.5.1.4.1.1.4'),
      el(0x0008, 0x0018, '1.2.3.4'),
      el(0x0008, 0x1110, Buffer.alloc(0), U),
      el(0xfffe, 0xe000, Buffer.alloc(0), U),
      el(0x0008, 0x1155, '9.9.9'),
      el(0xfffe, 0xe00d, Buffer.alloc(0)),
      el(0xfffe, 0xe000, el(0x0008, 0x1155, '8.8')),
      el(0xfffe, 0xe0dd, Buffer.alloc(0)),
      el(0x0019, 0x1010, Buffer.alloc(1000)),
      el(0x0020, 0x000d, '1.2.5'),
      el(0x0020, 0x000e, '1.2.6'),
      Buffer.from('garbage after the series UID is never read'),
    ]);
    for (const chunk of [1, 3, 64, bytes.length]) {
      const s = scan(bytes, false, chunk);
      assert.equal(s.error, undefined);
      assert.deepEqual(s.facts, { sopClassUid: '1.2.840.10008.5.1.4.1.1.4', sopInstanceUid: '1.2.3.4', studyInstanceUid: '1.2.5', seriesInstanceUid: '1.2.6' });
    }
  });

  it('reports a dataset without series UID as done with the UID missing', () => {
    const s = scan(Buffer.concat([el(0x0008, 0x0018, '1.2'), el(0x0028, 0x0010, Buffer.alloc(2))]), false, 5);
    assert.equal(s.done, true);
    assert.equal(s.facts.seriesInstanceUid, undefined);
  });

  it('flags garbage and truncation as errors', () => {
    assert.match(scan(Buffer.from('\x08\x00\x16\x00!!\x04\x001.2.', 'latin1'), true, 4).error ?? '', /invalid VR/);
    assert.match(scan(el(0x0008, 0x0018, '1.2.3.4').subarray(0, 12), false, 100).error ?? '', /ends inside/);
  });

  it('gives up after maxScanBytes without a series UID', () => {
    const s = new HeaderScanner(false, 1000);
    s.push(el(0x0019, 0x1010, Buffer.alloc(600)));
    assert.equal(s.error, undefined);
    s.push(el(0x0019, 0x1011, Buffer.alloc(600)));
    assert.match(s.error ?? '', /first 1000 bytes/);
  });
});
