// The end of an association over a real socket, with hand-built PDUs (test/hardening/raw-assoc):
// an A-RELEASE-RQ sent right behind a C-STORE (same write, before any response) gets the
// C-STORE-RSP first, then A-RELEASE-RP, also while the spool is still flushing; an instance
// received whole before the connection drops is kept, reported and logged as stored without a
// response (not as refused); refusal reasons reach the log in full.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import type net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Spool, SpoolInput, SpoolStored } from '../../src/core/seams.js';
import type { InstanceMeta } from '../../src/core/types.js';
import { readPart10, SopClass } from '../../src/dicom/dcmjs.js';
import { startDicomListener, type DicomListener } from '../../src/receive/scp.js';
import { FsSpool } from '../../src/receive/spool-fs.js';
import { datasetBytes, MR_DIR } from '../helpers/peers.js';
import { collectPdus, cStoreRq, RELEASE_RQ, requestAssociation, type ReceivedPdu } from '../hardening/raw-assoc.js';
import { captureLog } from './log-capture.js';

const HOST = '127.0.0.1';
const ASL = join(MR_DIR, 'siemens-asl-6mm-thick-7.5mm-spacing');
const EXPLICIT_LE = '1.2.840.10008.1.2.1';
const A_RELEASE_RP = 0x06;
const C_STORE_RSP = 0x8001;

/**
 * The real spool, slowed down where a slow disk would be: `beforeMs` before it starts writing
 * (the dataset is still queued in memory), `afterMs` after the file is placed and before the
 * store resolves (a flush still running).
 */
class SlowSpool implements Spool {
  beforeMs = 0;
  afterMs = 0;
  constructor(readonly inner: FsSpool) {}
  async store(input: SpoolInput): Promise<SpoolStored> {
    const hold = this.beforeMs;
    const source = input.dataset;
    const dataset = Buffer.isBuffer(source)
      ? source
      : (async function* () {
          await sleep(hold);
          yield* source;
        })();
    const stored = await this.inner.store({ ...input, dataset });
    await sleep(this.afterMs);
    return stored;
  }
  listSeries(study: string, series: string): Promise<string[]> {
    return this.inner.listSeries(study, series);
  }
  removeSeries(study: string, series: string): Promise<void> {
    return this.inner.removeSeries(study, series);
  }
  seriesKey(study: string, series: string): string {
    return this.inner.seriesKey(study, series);
  }
  studySeriesSamples(study: string): Promise<string[]> {
    return this.inner.studySeriesSamples(study);
  }
  storedSeries(): Promise<{ key: string; files: string[] }[]> {
    return this.inner.storedSeries();
  }
  close(): void {
    this.inner.close();
  }
}

interface Instance {
  path: string;
  dataset: Buffer;
  sopInstanceUid: string;
  studyInstanceUid: string;
  seriesInstanceUid: string;
}

async function instances(n: number): Promise<Instance[]> {
  const files = (await readdir(ASL)).filter((f) => f.endsWith('.dcm')).sort().slice(0, n).map((f) => join(ASL, f));
  return Promise.all(
    files.map(async (path) => {
      const { dataset, transferSyntaxUid } = await readPart10(path, { headerOnly: true });
      assert.equal(transferSyntaxUid, EXPLICIT_LE);
      return {
        path,
        dataset: datasetBytes(path),
        sopInstanceUid: String(dataset.SOPInstanceUID),
        studyInstanceUid: String(dataset.StudyInstanceUID),
        seriesInstanceUid: String(dataset.SeriesInstanceUID),
      };
    }),
  );
}

const storeRq = (x: Instance, messageId: number) =>
  cStoreRq({ messageId, sopClassUid: SopClass.MRImageStorage, sopInstanceUid: x.sopInstanceUid, dataset: x.dataset });

/** What the node sent, in order: "rsp:<messageId>:<status hex>" or "release-rp" (others by type). */
function story(pdus: ReceivedPdu[]): string[] {
  return pdus.map((p) => {
    if (p.command?.commandField === C_STORE_RSP) return `rsp:${p.command.messageIdBeingRespondedTo}:${p.command.status?.toString(16)}`;
    if (p.type === A_RELEASE_RP) return 'release-rp';
    return `pdu-${p.type}`;
  });
}

/** Waits for p, failing after ms (the timer does not outlive it). */
async function within<T>(p: Promise<T>, ms: number, why: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(why())), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

describe('association release and dropped connections (raw socket)', () => {
  let dir: string;
  let spool: SlowSpool;
  let listener: DicomListener;
  const received: InstanceMeta[] = [];
  const { log, lines: logLines } = captureLog();
  const linesFor = (sop: string) => logLines.filter((l) => l.sopInstanceUid === sop);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'interslice-release-'));
    spool = new SlowSpool(new FsSpool(join(dir, 'spool')));
    listener = await startDicomListener({
      aeTitle: 'INTERSLICE', host: HOST, port: 0, allowedCallers: [], spool, log, onInstance: (meta) => received.push(meta),
    });
  });

  after(async () => {
    await listener?.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function associate(port = listener.port): Promise<net.Socket> {
    const a = await requestAssociation(HOST, port, 'INTERSLICE', 'RAWSCU', 10_000, undefined, {
      abstractSyntax: SopClass.MRImageStorage, transferSyntax: EXPLICIT_LE,
    });
    assert.equal(a.kind, 'accept');
    if (a.kind !== 'accept') throw new Error('not accepted');
    assert.deepEqual(a.contextResults, [0]);
    return a.socket;
  }

  /** Sends the stores and the release in one write; resolves with what came back until close. */
  async function storeThenRelease(batch: Instance[]): Promise<string[]> {
    const socket = await associate();
    const got = collectPdus(socket);
    socket.write(Buffer.concat([...batch.map((x, i) => storeRq(x, i + 1)), RELEASE_RQ]));
    await within(got.closed, 10_000, () => `no close; got ${story(got.pdus)}`);
    return story(got.pdus);
  }

  it('answers a C-STORE before an A-RELEASE-RQ sent in the same write', async () => {
    const [x] = await instances(1);
    assert.deepEqual(await storeThenRelease([x]), ['rsp:1:0', 'release-rp']);
    assert.deepEqual(await spool.listSeries(x.studyInstanceUid, x.seriesInstanceUid), [
      join(spool.inner.seriesDir(x.studyInstanceUid, x.seriesInstanceUid), `${x.sopInstanceUid}.dcm`),
    ]);
    assert.ok(received.some((m) => m.sopInstanceUid === x.sopInstanceUid));
    assert.equal(linesFor(x.sopInstanceUid).find((l) => l.event === 'instance-stored')?.answered, true);
  });

  it('answers every queued C-STORE, in order, while the spool is still flushing, then releases', async () => {
    spool.afterMs = 300;
    try {
      const batch = (await instances(4)).slice(1);
      const started = Date.now();
      assert.deepEqual(await storeThenRelease(batch), ['rsp:1:0', 'rsp:2:0', 'rsp:3:0', 'release-rp']);
      // The release waited for the held stores (they run side by side: 300 ms in all).
      assert.ok(Date.now() - started >= 290, `released after ${Date.now() - started} ms`);
      for (const x of batch) {
        assert.equal((await spool.listSeries(x.studyInstanceUid, x.seriesInstanceUid)).filter((p) => p.includes(x.sopInstanceUid)).length, 1);
        assert.ok(received.some((m) => m.sopInstanceUid === x.sopInstanceUid));
      }
    } finally {
      spool.afterMs = 0;
    }
  });

  for (const [name, hold] of [
    ['still queued for the spool', { beforeMs: 300, afterMs: 0 }],
    ['placed, flush still running', { beforeMs: 0, afterMs: 300 }],
  ] as const) {
    it(`keeps an instance received whole when the connection drops before its response (${name})`, async () => {
      const x = (await instances(5 + (hold.beforeMs ? 0 : 1))).at(-1)!;
      Object.assign(spool, hold);
      try {
        const socket = await associate();
        // The whole dataset, then the connection is gone before the response can be written.
        socket.write(storeRq(x, 7), () => socket.destroy());
        await sleep(hold.beforeMs + hold.afterMs + 400);
      } finally {
        Object.assign(spool, { beforeMs: 0, afterMs: 0 });
      }
      const files = await spool.listSeries(x.studyInstanceUid, x.seriesInstanceUid);
      assert.equal(files.filter((p) => p.endsWith(`${x.sopInstanceUid}.dcm`)).length, 1, 'kept in the spool');
      assert.ok(received.some((m) => m.sopInstanceUid === x.sopInstanceUid), 'reported to the pipeline');
      const lines = linesFor(x.sopInstanceUid);
      assert.deepEqual(lines.filter((l) => l.event === 'instance-refused'), [], 'not logged as refused');
      assert.ok(!lines.some((l) => /not stored/.test(JSON.stringify(l))), JSON.stringify(lines));
      const stored = lines.find((l) => l.event === 'instance-stored');
      assert.equal(stored?.answered, false);
      assert.match(String(stored?.message), /kept.*before the response/);
    });
  }

  it('logs a refusal reason in full and sends its first 64 characters as the ErrorComment', async () => {
    // A free-space watermark no disk meets: every store is refused with A700 and a long reason.
    const full = await startDicomListener({
      aeTitle: 'INTERSLICE', host: HOST, port: 0, allowedCallers: [], log,
      spool: new FsSpool({ root: join(dir, 'full'), minFreeBytes: Number.MAX_SAFE_INTEGER }),
      onInstance: () => assert.fail('nothing may be stored'),
    });
    try {
      const [x] = await instances(1);
      const socket = await associate(full.port);
      const got = collectPdus(socket);
      socket.write(Buffer.concat([storeRq(x, 9), RELEASE_RQ]));
      await within(got.closed, 10_000, () => `no close; got ${story(got.pdus)}`);
      assert.deepEqual(story(got.pdus), ['rsp:9:a700', 'release-rp']);
      const refused = linesFor(x.sopInstanceUid).find((l) => l.event === 'instance-refused' && l.status === '0xa700');
      const reason = String(refused?.reason);
      assert.match(reason, new RegExp(`^not stored: free disk \\d+ bytes below watermark ${Number.MAX_SAFE_INTEGER}$`));
      assert.ok(reason.length > 64, `reason of ${reason.length} characters`);
      const comment = got.pdus[0].command?.errorComment ?? '';
      assert.equal(comment, reason.slice(0, 64));
    } finally {
      await full.close();
    }
  });
});
