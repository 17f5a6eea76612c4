// One contract for every Spool: the embedded FsSpool and the clustered IndexedSpool (FsSpool's
// files on the shared storage.dir, PostgreSQL's instance index). What the pipeline relies on:
// a store is durable and listed, a resend counts once, a series lists every file whichever
// process stored it, removal forgets it, and keys, samples and the stored series agree.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { Spool } from '../../src/core/seams.js';
import { FsSpool } from '../../src/receive/spool/spool-fs.js';
import { IndexedSpool } from '../../src/cluster/indexed-spool.js';
import { lazyPostgres, noPostgres } from '../helpers/postgres.js';

interface Backend {
  /** Two processes' spools on one fresh storage (and index). */
  fresh(): Promise<[Spool, Spool]>;
}

const dataset = (n: number) => Buffer.concat([Buffer.from([0x08, 0x00, 0x16, 0x00]), Buffer.from(`UI\u0004\u0000${String(n).padStart(4, '0')}`)]);
const input = (series: string, sop: string, n = 1) => ({
  studyInstanceUid: '1.2.3',
  seriesInstanceUid: series,
  sopInstanceUid: sop,
  sopClassUid: '1.2.840.10008.5.1.4.1.1.4',
  transferSyntaxUid: '1.2.840.10008.1.2.1',
  dataset: dataset(n),
  callingAeTitle: 'TEST',
});

function contract(name: string, backend: () => Backend, skip?: string) {
  describe(`Spool contract: ${name}`, { skip }, () => {
    it('stores durably, lists a series from both processes, counts a resend once', async () => {
      const [a, b] = await backend().fresh();
      const s1 = await a.store(input('1.2.3.4', '1.2.3.4.1', 1));
      const s2 = await b.store(input('1.2.3.4', '1.2.3.4.2', 2));
      assert.equal(s1.duplicate, false);
      assert.equal(s2.duplicate, false);
      assert.ok(existsSync(s1.path) && readFileSync(s1.path).includes(dataset(1)), 'the dataset is in the file as received');
      const again = await b.store(input('1.2.3.4', '1.2.3.4.1', 1));
      assert.equal(again.duplicate, true, 'a resend through another process counts once');
      for (const sp of [a, b]) assert.deepEqual((await sp.listSeries('1.2.3', '1.2.3.4')).sort(), [s1.path, s2.path].sort());
    });

    it('keys, samples and the stored series agree; removal forgets the series', async () => {
      const [a, b] = await backend().fresh();
      await a.store(input('1.2.3.4', '1.2.3.4.1'));
      await a.store(input('1.2.3.5', '1.2.3.5.1'));
      assert.equal(a.seriesKey('1.2.3', '1.2.3.4'), b.seriesKey('1.2.3', '1.2.3.4'));
      assert.notEqual(a.seriesKey('1.2.3', '1.2.3.4'), a.seriesKey('1.2.3', '1.2.3.5'));
      assert.equal((await b.studySeriesSamples('1.2.3')).length, 2);
      const stored = await b.storedSeries();
      assert.deepEqual(stored.map((s) => s.key).sort(), [a.seriesKey('1.2.3', '1.2.3.4'), a.seriesKey('1.2.3', '1.2.3.5')].sort());
      await b.removeSeries('1.2.3', '1.2.3.4');
      assert.deepEqual(await a.listSeries('1.2.3', '1.2.3.4'), []);
      assert.equal((await a.storedSeries()).length, 1);
      assert.equal((await a.listSeries('1.2.3', '1.2.3.5')).length, 1);
    });
  });
}

const dirs: string[] = [];
const spools: Spool[] = [];
after(() => {
  spools.forEach((s) => s.close());
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
});
const fsPair = (root: string): [FsSpool, FsSpool] => {
  const pair: [FsSpool, FsSpool] = [new FsSpool({ root }), new FsSpool({ root })];
  spools.push(...pair);
  return pair;
};
const freshDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'interslice-spool-'));
  dirs.push(d);
  return join(d, 'spool');
};

contract('embedded (FsSpool)', () => ({ fresh: async () => fsPair(freshDir()) }));

const pg = lazyPostgres();
after(() => pg.close());
contract(
  'clustered (IndexedSpool on PostgreSQL)',
  () => ({
    async fresh() {
      const url = await pg.database();
      const [fa, fb] = fsPair(freshDir());
      return [new IndexedSpool(fa, pg.pool(url)), new IndexedSpool(fb, pg.pool(url))];
    },
  }),
  noPostgres(),
);

describe('IndexedSpool: the series job before the index row', { skip: noPostgres() }, () => {
  it('an instance whose job could not be queued is refused, and its resend (a duplicate file) queues the job and indexes it', async () => {
    const [files] = fsPair(freshDir());
    const spool = new IndexedSpool(files, pg.pool(await pg.database()));
    const queued: string[] = [];
    let failNext = true;
    spool.afterStore = async (i) => {
      if (failNext) {
        failNext = false;
        throw new Error('connection terminated');
      }
      queued.push(i.sopInstanceUid);
    };
    await assert.rejects(spool.store(input('1.2.3.4', '1.2.3.4.1')), /instance index/);
    assert.deepEqual(await spool.listSeries('1.2.3', '1.2.3.4'), [], 'not indexed without its job');
    const again = await spool.store(input('1.2.3.4', '1.2.3.4.1'));
    assert.equal(again.duplicate, true, 'the file was already there');
    assert.deepEqual(queued, ['1.2.3.4.1'], 'the resend queued the job');
    assert.equal((await spool.listSeries('1.2.3', '1.2.3.4')).length, 1);
    await spool.store(input('1.2.3.4', '1.2.3.4.1'));
    assert.deepEqual(queued, ['1.2.3.4.1'], 'an instance already indexed does not queue again');
  });
});
