// The listener against real DCMTK peers (storescu, echoscu) over loopback.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { InstanceMeta } from '../../src/core/types.js';
import { readPart10, SopClass, TransferSyntax } from '../../src/dicom/dcmjs.js';
import { startDicomListener, type DicomListener } from '../../src/receive/transport/scp.js';
import { FsSpool } from '../../src/receive/spool/spool-fs.js';
import { datasetBytes, echoscu, MR_DIR, runTool, storescu } from '../helpers/peers.js';
import { tempLeftovers } from '../helpers/spool.js';
import { captureLog } from './log-capture.js';

const ASL = join(MR_DIR, 'siemens-asl-6mm-thick-7.5mm-spacing');
const MIXED = join(MR_DIR, 'siemens-mixed-mr-and-secondary-capture');
const ENHANCED = join(MR_DIR, 'enhanced', 'philips-pcasl-enhanced-40frames.dcm');
const HOST = '127.0.0.1';

interface Received {
  meta: InstanceMeta;
  duplicate: boolean;
  callingAeTitle?: string;
}

async function dcmFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => n.endsWith('.dcm')).sort().map((n) => join(dir, n));
}

async function spooled(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (e.isFile() && e.name.endsWith('.dcm')) out.push(join(e.parentPath, e.name));
  }
  return out.sort();
}

describe('DICOM listener with DCMTK peers', () => {
  let dir: string;
  let spool: FsSpool;
  let listener: DicomListener;
  const received: Received[] = [];
  const { log, lines: logLines } = captureLog();
  const events = (name: string) => logLines.filter((l) => l.event === name);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'interslice-scp-'));
    spool = new FsSpool(join(dir, 'spool'));
    listener = await startDicomListener({
      aeTitle: 'INTERSLICE',
      host: HOST,
      port: 0,
      allowedCallers: ['STORESCU', 'ECHOSCU'],
      spool,
      log,
      onInstance: (meta, info) => received.push({ meta, ...info }),
    });
  });

  after(async () => {
    await listener.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('stores what storescu pushes byte-identically and reports each instance once', async () => {
    const sources = await dcmFiles(ASL);
    const res = await storescu(HOST, listener.port, [ASL]);
    assert.equal(res.code, 0, res.stderr);
    const files = await spooled(spool.root);
    assert.equal(files.length, sources.length);
    assert.equal(received.length, sources.length);
    assert.ok(received.every((r) => !r.duplicate && r.callingAeTitle === 'STORESCU'));

    for (const src of sources) {
      const { dataset } = await readPart10(src, { headerOnly: true });
      const r = received.find((x) => x.meta.sopInstanceUid === dataset.SOPInstanceUID);
      assert.ok(r, `instance ${dataset.SOPInstanceUID} reported`);
      assert.equal(r.meta.seriesInstanceUid, dataset.SeriesInstanceUID);
      assert.equal(r.meta.studyInstanceUid, dataset.StudyInstanceUID);
      assert.equal(r.meta.path, join(spool.seriesDir(dataset.StudyInstanceUID, dataset.SeriesInstanceUID), `${dataset.SOPInstanceUID}.dcm`));
      // The dataset part is exactly the bytes sent (no re-encoding).
      assert.ok(datasetBytes(r.meta.path).equals(datasetBytes(src)), `dataset bytes of ${src}`);
      // And the Part-10 file we built parses, with our file meta.
      const stored = await readPart10(r.meta.path);
      assert.equal(stored.meta.MediaStorageSOPInstanceUID, dataset.SOPInstanceUID);
      assert.equal(stored.meta.MediaStorageSOPClassUID, SopClass.MRImageStorage);
      assert.equal(stored.transferSyntaxUid, TransferSyntax.ExplicitVRLittleEndian);
      assert.equal(stored.meta.SourceApplicationEntityTitle, 'STORESCU');
    }
    assert.equal(events('instance-stored').length, sources.length);
    assert.equal(events('association-open').length, 1);
  });

  it('keeps private tags (dcmdump sees the Siemens private group)', async () => {
    const path = received[0].meta.path;
    const dump = await runTool('dcmdump', ['+P', '0051,0010', path]);
    assert.match(dump.stdout, /SIEMENS MR HEADER/);
  });

  it('counts a resent instance once', async () => {
    const before = received.length;
    const sources = await dcmFiles(ASL);
    const res = await storescu(HOST, listener.port, sources.slice(0, 3));
    assert.equal(res.code, 0, res.stderr);
    const again = received.slice(before);
    assert.equal(again.length, 3);
    assert.ok(again.every((r) => r.duplicate));
    assert.equal((await spooled(spool.root)).length, sources.length);
  });

  it('accepts Implicit VR Little Endian and stores it as received', async () => {
    const before = received.length;
    const res = await storescu(HOST, listener.port, [ENHANCED], { args: ['-xi'] });
    assert.equal(res.code, 0, res.stderr);
    const r = received.slice(before);
    assert.equal(r.length, 1);
    assert.equal(r[0].meta.sopClassUid, SopClass.EnhancedMRImageStorage);
    assert.equal(r[0].meta.transferSyntaxUid, TransferSyntax.ImplicitVRLittleEndian);
    assert.equal(r[0].meta.numberOfFrames, 40);
  });

  it('refuses Secondary Capture at negotiation and stores the MR images beside it', async () => {
    const before = received.length;
    const res = await storescu(HOST, listener.port, [MIXED], { args: ['-v'] });
    const r = received.slice(before);
    assert.equal(r.length, 12);
    assert.ok(r.every((x) => x.meta.sopClassUid === SopClass.MRImageStorage));
    // storescu finds no accepted presentation context for the 12 SC files.
    assert.match(res.stdout + res.stderr, /no presentation context/i);
    const rejected = events('context-rejected').filter((e) => e.abstractSyntax === SopClass.SecondaryCaptureImageStorage);
    assert.ok(rejected.length >= 1);
    assert.equal(rejected[0].result, 3); // abstract syntax not supported
  });

  it('answers C-ECHO', async () => {
    const res = await echoscu(HOST, listener.port);
    assert.equal(res.code, 0, res.stderr);
  });

  it('refuses a wrong called AE title', async () => {
    const res = await echoscu(HOST, listener.port, { calledAe: 'SOMEONE' });
    assert.notEqual(res.code, 0);
    assert.match(res.stdout + res.stderr, /Called AE Title Not Recognized/i);
  });

  it('refuses a calling AE title that is not allowed', async () => {
    const res = await echoscu(HOST, listener.port, { callingAe: 'INTRUDER' });
    assert.notEqual(res.code, 0);
    assert.match(res.stdout + res.stderr, /Calling AE Title Not Recognized/i);
    assert.ok(events('association-rejected').some((e) => e.callingAeTitle === 'INTRUDER'));
  });

  it('survives garbage and an association cut mid-dataset', async () => {
    // Not a PDU at all.
    await new Promise<void>((resolve) => {
      const s = net.connect({ host: HOST, port: listener.port }, () => s.end(Buffer.from('GET / HTTP/1.1\r\n\r\n')));
      s.on('close', () => resolve());
      s.on('error', () => resolve());
    });
    // A P-DATA-TF header declaring ~4 GB: the connection is cut at once, nothing is buffered.
    const cut = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: HOST, port: listener.port }, () => s.write(Buffer.from([4, 0, 0xff, 0xff, 0xff, 0xf0, 1, 2, 3])));
      const timer = setTimeout(() => resolve(false), 2000);
      s.on('close', () => (clearTimeout(timer), resolve(true)));
      s.on('error', () => undefined);
    });
    assert.ok(cut, 'oversize PDU closes the connection');
    assert.ok(events('association-abort-pdu').length >= 1);
    // storescu killed while sending leaves no temp file and no partial instance behind.
    await storescu(HOST, listener.port, [join(MR_DIR, 'siemens-mosaic-epi')], { timeoutMs: 30 });
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(await tempLeftovers(spool.root), []);
    for (const f of await spooled(spool.root)) assert.ok((await readPart10(f, { headerOnly: true })).dataset.SOPInstanceUID);
    const res = await echoscu(HOST, listener.port);
    assert.equal(res.code, 0, 'still answering after hostile input');
  });

  it('refuses an instance over maxInstanceBytes with 0xA700 and keeps nothing', async () => {
    const small = await startDicomListener({
      aeTitle: 'INTERSLICE', host: HOST, port: 0, allowedCallers: [], spool: new FsSpool(join(dir, 'small')), log,
      onInstance: () => assert.fail('nothing may be reported'), maxInstanceBytes: 20_000,
    });
    try {
      const [file] = await dcmFiles(ASL);
      const res = await storescu(HOST, small.port, [file], { args: ['-v'] });
      assert.match(res.stdout + res.stderr, /A700|Out of Resources|Refused: OutOfResources/i);
      assert.deepEqual(await spooled(join(dir, 'small')), []);
      assert.ok(events('instance-refused').some((e) => e.status === '0xa700'));
    } finally {
      await small.close();
    }
  });

  it('drops a connection that never sends an association request', async () => {
    const quick = await startDicomListener({
      aeTitle: 'INTERSLICE', host: HOST, port: 0, allowedCallers: [], spool, log, onInstance: () => undefined,
      timeouts: { associationMs: 500 },
    });
    try {
      const started = Date.now();
      await new Promise<void>((resolve) => {
        const s = net.connect({ host: HOST, port: quick.port });
        s.on('close', () => resolve());
        s.on('error', () => undefined);
      });
      assert.ok(Date.now() - started < 5000, `closed after ${Date.now() - started} ms`);
    } finally {
      await quick.close();
    }
  });
});
