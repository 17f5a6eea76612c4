// A header-only read (first 64 KB, then 256 KB, then the whole file) must give exactly the
// attributes a full read gives, for every real file in ../shared/data/mr: the probe may stop
// early only once it has reached Pixel Data.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readPart10 } from '../../src/dicom/dcmjs.js';

const MR = fileURLToPath(new URL('../../../shared/data/mr/', import.meta.url));

describe('readPart10 headerOnly', () => {
  for (const folder of readdirSync(MR, { withFileTypes: true }).filter((d) => d.isDirectory() && d.name !== 'LICENSES')) {
    it(`matches the full read: ${folder.name}`, async () => {
      const files = readdirSync(join(MR, folder.name)).sort();
      for (const f of [files[0], files[files.length - 1]]) {
        const path = join(MR, folder.name, f);
        const header = await readPart10(path, { headerOnly: true });
        const full = await readPart10(path);
        delete full.dataset.PixelData;
        // dcmjs notes the VR of Pixel Data only when it read the element itself.
        delete full.dataset._vrMap?.PixelData;
        delete header.dataset._vrMap?.PixelData;
        assert.deepEqual(header.dataset, full.dataset, path);
        assert.equal(header.transferSyntaxUid, full.transferSyntaxUid);
      }
    });
  }
});
