// Compressed input: lossless JPEG, JPEG-LS and RLE made from the real ASL series with DCMTK
// (dcmcjpeg, dcmcjpls, dcmcrle), JPEG 2000 encoded with dcmjs-codecs itself (DCMTK has no free
// JPEG 2000 encoder). Each decodes bit-exactly to the original pixels; a JPEG-LS series pushed
// with storescu is stored as received (compressed) and processed into a full derived series.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { decodeFrames } from '../../src/assemble/decode.js';
import { readInstanceMeta } from '../../src/assemble/instance-meta.js';
import { readPart10 } from '../../src/dicom/dcmjs.js';
import { storeFiles } from '../../src/send/scu.js';
import { readFileMeta } from '../../src/send/file-dataset.js';
import { MR_DIR, runTool, startStorescp, storescu } from '../helpers/peers.js';
import { serve, until } from '../helpers/serve.js';

const require = createRequire(import.meta.url);
const { Context, NativeCodecs } = require('dcmjs-codecs') as typeof import('dcmjs-codecs');

const ASL = join(MR_DIR, 'siemens-asl-6mm-thick-7.5mm-spacing');
const ASL_FILES = readdirSync(ASL).sort().map((n) => join(ASL, n));

async function pixels(path: string): Promise<Buffer> {
  const { dataset } = await readPart10(path);
  return Buffer.from(dataset.PixelData[0] as ArrayBuffer);
}

describe('compressed input (dcmjs-codecs)', () => {
  const work = mkdtempSync(join(tmpdir(), 'interslice-codecs-'));
  after(() => rmSync(work, { recursive: true, force: true }));

  const tools: [string, string, string[]][] = [
    ['JPEG Lossless SV1', 'dcmcjpeg', ['+e1']],
    ['JPEG-LS Lossless', 'dcmcjpls', []],
    ['RLE Lossless', 'dcmcrle', []],
  ];
  for (const [name, tool, args] of tools) {
    it(`decodes ${name} (${tool}) bit-exactly`, async () => {
      const out = join(work, `${tool}.dcm`);
      const r = await runTool(tool, [...args, ASL_FILES[0], out]);
      assert.equal(r.code, 0, r.stderr);
      const meta = await readInstanceMeta(out);
      const { dataset } = await readPart10(out);
      const decoded = await decodeFrames(meta, dataset.PixelData as ArrayBuffer[]);
      assert.ok(Buffer.from(decoded).equals(await pixels(ASL_FILES[0])), `${name} round trip`);
    });
  }

  it('decodes JPEG 2000 Lossless bit-exactly', async () => {
    const meta = await readInstanceMeta(ASL_FILES[0]);
    const original = await pixels(ASL_FILES[0]);
    await decodeFrames({ ...meta, transferSyntaxUid: '1.2.840.10008.1.2.5' }, [new ArrayBuffer(0)], []).catch(() => undefined); // loads the codecs
    const ctx = new Context({
      width: meta.columns, height: meta.rows, bitsAllocated: 16, bitsStored: meta.bitsStored, samplesPerPixel: 1,
      pixelRepresentation: meta.pixelRepresentation, photometricInterpretation: 'MONOCHROME2', decodedBuffer: new Uint8Array(original),
    });
    const encoded = NativeCodecs.encodeJpeg2000(ctx, { lossy: false }).getEncodedBuffer()!;
    assert.ok(encoded.byteLength < original.byteLength);
    const decoded = await decodeFrames({ ...meta, transferSyntaxUid: '1.2.840.10008.1.2.4.90' }, [encoded.slice().buffer as ArrayBuffer]);
    assert.ok(Buffer.from(decoded).equals(original));
  });

  it('refuses a decoded size a hostile header makes huge, before allocating it', async () => {
    const meta = await readInstanceMeta(ASL_FILES[0]);
    await assert.rejects(
      decodeFrames({ ...meta, transferSyntaxUid: '1.2.840.10008.1.2.4.80', rows: 65535, columns: 65535, numberOfFrames: 1000 }, [new ArrayBuffer(8)]),
      /out of bounds/,
    );
  });

  it('negotiates the outbound transfer syntax: Explicit VR LE as written, Implicit VR for a peer that takes only that', async () => {
    for (const [name, args, ts] of [
      ['explicit', [], '1.2.840.10008.1.2.1'],
      ['implicit-only', ['+xi'], '1.2.840.10008.1.2'],
    ] as const) {
      const dir = join(work, `pacs-${name}`);
      mkdirSync(dir, { recursive: true });
      const pacs = await startStorescp(dir, { args: [...args] });
      try {
        const results = await storeFiles({ host: '127.0.0.1', port: pacs.port, aeTitle: 'PACS', callingAeTitle: 'INTERSLICE' }, ASL_FILES.slice(0, 2));
        assert.ok(results.every((r) => r.ok), JSON.stringify(results));
        for (const f of readdirSync(dir)) assert.equal(readFileMeta(join(dir, f)).transferSyntaxUid, ts, name);
      } finally {
        await pacs.stop();
      }
    }
  });

  it('receives a JPEG-LS series as sent and derives the full series from it', async () => {
    const input = join(work, 'jls-series');
    mkdirSync(input, { recursive: true });
    for (const f of ASL_FILES) {
      const r = await runTool('dcmcjpls', [f, join(input, f.split('/').pop()!)]);
      assert.equal(r.code, 0, r.stderr);
    }
    const node = await serve({
      work,
      config: [
        'dicom: { aeTitle: INTERSLICE, host: 127.0.0.1, port: 0 }',
        `storage: { dir: ${JSON.stringify(join(work, 'var'))}, minFreeMb: 0 }`,
        'pipeline: { stableSeconds: 1, method: linear }',
        'destinations: []',
        'admin: { enabled: false }',
      ],
    });
    try {
      // -xt +C: one presentation context offering JPEG-LS first, then uncompressed; the node
      // takes JPEG-LS (storescu cannot decompress JPEG-LS itself).
      const r = await storescu('127.0.0.1', node.port, [input], { args: ['-xt', '+C', '-v'] });
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const spooled = readdirSync(join(work, 'var', 'spool'), { recursive: true }).filter((n) => String(n).endsWith('.dcm')).map((n) => join(work, 'var', 'spool', String(n)));
      assert.equal(spooled.length, 12, `${r.stdout}${r.stderr}\n${node.logs.filter((l) => String(l.event ?? '').startsWith('instance') || String(l.event ?? '').startsWith('association')).map((l) => JSON.stringify(l)).join('\n').slice(0, 3000)}`);
      assert.equal((await readInstanceMeta(spooled[0])).transferSyntaxUid, '1.2.840.10008.1.2.4.80', 'stored as received');
      const written = await node.waitFor((l) => l.message === 'derived series written', 60_000, 'derived series');
      assert.equal(written.slices, 89);
      const outDir = join(work, 'var', 'out');
      // The series is copied to out/ after the 'written' log line: wait for the folder too.
      await until(() => existsSync(outDir) && readdirSync(outDir, { recursive: true }).filter((n) => String(n).endsWith('.dcm')).length === 89, 30_000, 'derived files');
    } finally {
      await node.stop();
    }
  });
});


