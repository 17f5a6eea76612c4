// Hostile input against a real `interslice serve`: a generated corpus of damaged series (see
// corpus.ts) and a seeded fuzz run (200 mutated instances). Every instance gets a DICOM status;
// every refusal and every skipped or failed series leaves a log line that says why; the node
// keeps running (C-ECHO answers), its memory stays bounded, and nothing damaged is derived.
// Sent with our own SCU (it sends file bytes as they are; storescu refuses broken files), and
// a raw association proposing JPEG to show that transfer syntax refused at negotiation.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { storeFiles, type StoreResult } from '../../src/send/scu.js';
import { echoscu, MR_DIR } from '../helpers/peers.js';
import { requestAssociation } from './raw-assoc.js';
import { buildCorpus, buildFuzzCases, VARIANT_NAMES } from './corpus.js';
import { serve, until, type LogLine, type Served } from '../helpers/serve.js';

const ASL = join(MR_DIR, 'siemens-asl-6mm-thick-7.5mm-spacing');
const FUZZ_CASES = Number(process.env.INTERSLICE_FUZZ_CASES ?? 200);
const FUZZ_SEED = 20261125;
const RSS_LIMIT_MB = 600;

/** What each damaged series must get: a status for every instance, or the pipeline's verdict. */
const EXPECTED: Record<string, string> = {
  'truncated-in-pixels': 'status 0xc000',
  'truncated-in-header': 'status 0xc000',
  'wrong-element-length': 'status 0xc000',
  'no-pixel-data': 'status 0xa900',
  'no-position': 'unplaced',
  'no-orientation': 'unplaced',
  'rows-columns-disagree': 'status 0xa900',
  'huge-dimensions': 'status 0xa900',
  'mixed-orientations': 'skip',
  'unexpected-sop-class': 'status none',
  'sop-class-mismatch': 'status 0xa900',
  'sop-instance-mismatch': 'status 0xa900',
  'odd-character-set': 'status 0xc000',
  'latin1-and-utf8-names': 'derived',
  'no-series-uid': 'status 0xa900',
};

const hex = (s: number | undefined) => (s === undefined ? 'none' : `0x${s.toString(16).padStart(4, '0')}`);

/** Why the pipeline did what it did with a series, from its log lines. */
function seriesStory(logs: LogLine[], seriesUid: string): string[] {
  const mine = logs.filter((l) => l.seriesInstanceUid === seriesUid || l.sourceSeriesInstanceUid === seriesUid || String(l.file ?? '').includes(seriesUid));
  return mine.flatMap((l) => {
    if (l.message === 'stack decision') return [`${l.action}:${l.code}`];
    if (l.message === 'stack failed') return [`failed:${String(l.error).replace(/^\S*\.dcm: /, '').slice(0, 60)}`];
    if (l.message === 'instance not placed in any stack') return [`unplaced:${l.reason}`];
    if (l.message === 'stored instance unreadable') return ['unreadable'];
    if (l.message === 'derived series written') return [`derived:${l.slices}`];
    return [];
  });
}

describe('hostile input', () => {
  const work = mkdtempSync(join(tmpdir(), 'interslice-hostile-'));
  let node: Served;
  const send = (files: string[]) =>
    storeFiles({ host: '127.0.0.1', port: node.port, aeTitle: 'INTERSLICE', callingAeTitle: 'FUZZER' }, files, { associationMs: 10_000, pduMs: 10_000 });

  before(async () => {
    node = await serve({
      work,
      config: [
        'dicom: { aeTitle: INTERSLICE, host: 127.0.0.1, port: 0, timeouts: { associationSeconds: 5, pduSeconds: 5 } }',
        `storage: { dir: ${JSON.stringify(join(work, 'var'))}, minFreeMb: 0 }`,
        'pipeline: { stableSeconds: 1, method: linear }',
        'destinations: []',
        'admin: { enabled: false }',
      ],
    });
  });

  after(async () => {
    await node?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  async function alive(): Promise<void> {
    assert.equal(node.child.exitCode, null, 'node still running');
    const echo = await echoscu('127.0.0.1', node.port);
    assert.equal(echo.code, 0, `C-ECHO after hostile input: ${echo.stderr}`);
    const rss = node.rssMb();
    assert.ok(rss < RSS_LIMIT_MB, `RSS ${rss.toFixed(0)} MB`);
  }

  it(`answers every damaged series (${VARIANT_NAMES.length} kinds x 12 instances) with a status or a skip reason`, async () => {
    const variants = buildCorpus(ASL, join(work, 'corpus'), '2.25.4242');
    const table: string[] = [];
    const stored = new Map<string, StoreResult[]>();
    for (const v of variants) {
      const results = await send(v.files);
      stored.set(v.name, results);
      // An answer is a C-STORE status, or a presentation context refused at negotiation.
      for (const r of results) assert.ok(r.status !== undefined || /no accepted presentation context/.test(r.error ?? ''), `${v.name}: ${r.file} got no answer (${r.error})`);
    }
    // Series with anything stored must have been through a job that says what it concluded.
    for (const v of variants) {
      const results = stored.get(v.name)!;
      const refused = results.filter((r) => !r.ok);
      const statuses = [...new Set(results.map((r) => hex(r.status)))].join(',');
      let story: string[] = [];
      if (refused.length < results.length) {
        await node.waitFor((l) => l.message === 'series job finished' && l.seriesInstanceUid === v.seriesInstanceUid, 60_000, `job of ${v.name}`);
        story = seriesStory(node.logs, v.seriesInstanceUid);
        assert.ok(story.length > 0, `${v.name}: no decision logged`);
      }
      // Each refusal is logged with its status.
      const refusedLogged = node.logs.filter((l) => l.event === 'instance-refused' && String(l.sopInstanceUid).startsWith('2.25.4242.')).length;
      assert.ok(refusedLogged >= refused.length);
      const why = [...new Set(refused.map((r) => r.error?.replace(/^status 0x[0-9a-f]+ /, '') ?? ''))].join('; ').slice(0, 70);
      table.push(`${v.name.padEnd(24)} ${statuses.padEnd(7)} ${String(refused.length).padStart(2)}/12 refused ${why ? `(${why})` : ''} ${[...new Set(story)].join(' ')}`);
      const want = EXPECTED[v.name];
      if (want.startsWith('status')) assert.equal(`${refused.length}/${statuses}`, `12/${want.slice(7)}`, v.name);
      else assert.ok(refused.length === 0 && story.some((x) => x.startsWith(want)), `${v.name}: expected ${want}, got ${story.join(' ')}`);
      // Damage never turns into a derived series, except where the data is fine (charset).
      if (v.name !== 'latin1-and-utf8-names' && v.name !== 'mixed-orientations') assert.ok(!story.some((s) => s.startsWith('derived')), `${v.name} derived`);
    }
    console.log(`hostile corpus (${variants.length} series, ${variants.length * 12} instances):\n  ${table.join('\n  ')}`);

    // A transfer syntax we do not decode: its presentation context is refused at negotiation
    // (result 4, transfer syntaxes not supported); storescu would transcode or give up itself.
    const jpeg = await requestAssociation('127.0.0.1', node.port, 'INTERSLICE', 'FUZZER', 10_000, undefined, {
      abstractSyntax: '1.2.840.10008.5.1.4.1.1.4', transferSyntax: '1.2.840.10008.1.2.4.50',
    });
    assert.equal(jpeg.kind, 'accept');
    assert.deepEqual((jpeg as { contextResults: number[] }).contextResults, [4]);
    (jpeg as { socket: { destroy(): void } }).socket.destroy();
    await alive();
  });

  it(`survives ${FUZZ_CASES} seeded byte mutations of real instances and answers every association`, async () => {
    const cases = buildFuzzCases(ASL, join(work, 'fuzz'), '2.25.777', FUZZ_CASES, FUZZ_SEED);
    const started = Date.now();
    const counts = new Map<string, number>();
    let associations = 0;
    for (let i = 0; i < cases.length; i += 5) {
      const results = await send(cases.slice(i, i + 5));
      associations++;
      for (const r of results) {
        // A file our own SCU cannot even read is not sent: that is the fuzzer's loss, not the node's.
        const key = r.status === undefined ? (r.error?.startsWith('cannot read') ? 'unsendable' : `no answer: ${r.error}`) : hex(r.status);
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
    }
    const noAnswer = [...counts.keys()].filter((k) => k.startsWith('no answer'));
    assert.deepEqual(noAnswer, [], 'every instance sent got a status');
    // Let the pipeline chew on whatever was stored, then check the node is still whole.
    const fuzzSeries = new Set(node.logs.filter((l) => l.event === 'instance-stored' && String(l.sopInstanceUid).startsWith('2.25.777.')).map((l) => String(l.seriesInstanceUid)));
    const settled = (s: string) => node.logs.some((l) => (l.message === 'series job finished' || l.message === 'series job failed') && (l.seriesInstanceUid === s || String(l.jobId).endsWith(s)));
    await until(() => [...fuzzSeries].every(settled), 90_000, 'jobs of the fuzzed series').catch((e) => {
      const missing = [...fuzzSeries].filter((s) => !settled(s));
      const lines = node.logs.filter((l) => missing.some((m) => JSON.stringify(l).includes(m)) && l.event !== 'instance-stored');
      throw new Error(`${(e as Error).message}: ${missing.join(', ')}\n${lines.map((l) => JSON.stringify(l)).join('\n').slice(0, 4000)}`);
    });
    const failedJobs = node.logs.filter((l) => l.message === 'series job failed' && String(l.jobId).includes('2.25.777'));
    assert.deepEqual(failedJobs.map((l) => l.error), [], 'no series job crashed on fuzzed input');
    await alive();
    console.log(
      `fuzz: ${cases.length} cases (seed ${FUZZ_SEED}) in ${associations} associations, ${((Date.now() - started) / 1000).toFixed(1)} s; ` +
        `answers ${JSON.stringify(Object.fromEntries(counts))}; ${fuzzSeries.size} series processed; RSS ${node.rssMb().toFixed(0)} MB`,
    );
  });
});


