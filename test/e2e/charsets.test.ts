// Every character set over real DICOM: DCMTK storescu pushes to a real `interslice serve`
// (1) every sample of pydicom's charset_files (Debian python3-pydicom), made MR Image Storage
// instances with their text bytes and character sets untouched, and (2) one thick-slice MR
// stack per character set, whose PatientName is the sample's own bytes and whose Study and
// Series Descriptions pydicom encoded in that set. Nothing may be refused; every sample's job
// must read it; each stack's derived series, received by DCMTK storescp, must say ISO_IR 192
// and carry the same patient, study and series text as the source, both as pydicom decodes
// them (pydicom is the oracle: nothing here decodes with the code under test).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { MR_DIR, startStorescp, storescu, type Storescp } from '../helpers/peers.js';
import { ROOT, serve, type Served } from '../helpers/serve.js';
import { haveTool, listFiles } from '../helpers/dicom-tools.js';
import { testNodeConfig } from '../helpers/node-config.js';

const PYTHON = '/usr/bin/python3';
const SAMPLES = '/usr/lib/python3/dist-packages/pydicom/data/charset_files';
const HELPER = join(ROOT, 'test/helpers/charset-stacks.py');
/** 12 slices of 64x64, 6 mm thick every 7.5 mm: processed (MANIFEST.md). */
const CARRIER = join(MR_DIR, 'siemens-asl-6mm-thick-7.5mm-spacing');
/** One stack per character set (the samples with several sets, and the single-byte ones). */
const STACKS = [
  'chrH31', 'chrH32', 'chrJapMulti', 'chrI2', 'chrKoreanMulti', 'chrX1', 'chrX2', 'chrSQEncoding',
  'chrFrenMulti', 'chrArab', 'chrGreek', 'chrRuss', 'chrHbrw',
];
/** factor 2: each of the 11 gaps in two, 23 slices. */
const DERIVED_PER_STACK = 11 * 2 + 1;

interface Text {
  SpecificCharacterSet: string | string[] | null;
  PatientName: string | null;
  StudyDescription: string | null;
  SeriesDescription: string | null;
}
interface Sample {
  name: string;
  path: string;
  seriesInstanceUid: string;
}
interface Stack {
  name: string;
  dir: string;
  files: number;
  seriesInstanceUid: string;
  source: Text;
}
type Decoded = Text & { path: string; referencedSeries: string | null };

async function python<T>(args: string[]): Promise<T> {
  const { stdout } = await promisify(execFile)(PYTHON, [HELPER, ...args], { maxBuffer: 64 << 20 });
  return JSON.parse(stdout) as T;
}

const ready = haveTool('storescu') && haveTool('storescp') && existsSync(PYTHON) && existsSync(SAMPLES) && existsSync(CARRIER);

describe('every character set: storescu -> interslice serve -> storescp', { skip: ready ? false : 'needs DCMTK, Debian python3-pydicom and ../shared/data/mr' }, () => {
  const work = mkdtempSync(join(tmpdir(), 'interslice-charsets-'));
  let pacs: Storescp;
  let node: Served;
  let samples: Sample[] = [];
  let stacks: Stack[] = [];
  const pushes: { what: string; code: number | null; out: string }[] = [];
  let derived: Decoded[] = [];

  before(async () => {
    for (const d of ['samples', 'stacks', 'pacs']) mkdirSync(join(work, d));
    [samples, stacks] = await Promise.all([
      python<Sample[]>(['samples', SAMPLES, join(work, 'samples')]),
      python<Stack[]>(['stacks', SAMPLES, CARRIER, join(work, 'stacks'), STACKS.join(',')]),
    ]);
    pacs = await startStorescp(join(work, 'pacs'), { aeTitle: 'PACS' });
    const config = testNodeConfig({ work, pipeline: 'factor: 2, method: linear', destinations: [{ name: 'pacs', aeTitle: 'PACS', port: pacs.port }] });
    node = await serve({ work, config });
    const r = await storescu('127.0.0.1', node.port, [join(work, 'samples')], { callingAe: 'MODALITY', timeoutMs: 60_000 });
    pushes.push({ what: 'samples', code: r.code, out: r.stdout + r.stderr });
    for (const s of stacks) {
      const p = await storescu('127.0.0.1', node.port, [s.dir], { callingAe: 'MODALITY', timeoutMs: 60_000 });
      pushes.push({ what: s.name, code: p.code, out: p.stdout + p.stderr });
    }
    // Until every series' job has run and the PACS holds every derived instance, or nothing
    // has happened for a while (a refused series never gets a job: the tests say which).
    const series = [...samples, ...stacks].map((x) => x.seriesInstanceUid);
    const want = stacks.length * DERIVED_PER_STACK;
    const done = () =>
      series.every((uid) => node.logs.some((l) => l.message === 'series job finished' && l.seriesInstanceUid === uid)) &&
      readdirSync(join(work, 'pacs')).length >= want;
    const deadline = Date.now() + 90_000;
    let seen = -1;
    let quietSince = Date.now();
    while (!done() && Date.now() < deadline && Date.now() - quietSince < 10_000) {
      const now = node.logs.length + readdirSync(join(work, 'pacs')).length;
      if (now !== seen) [seen, quietSince] = [now, Date.now()];
      await new Promise((r) => setTimeout(r, 250));
    }
    derived = await python<Decoded[]>(['decode', ...listFiles(join(work, 'pacs'))]);
  });

  after(async () => {
    await node?.stop();
    await pacs?.stop();
    if (process.env.KEEP_E2E) console.log(`charsets work dir kept: ${work}`);
    else rmSync(work, { recursive: true, force: true });
  });

  it(`accepts every pydicom charset sample and every stack (no refusal)`, () => {
    assert.equal(samples.length, readdirSync(SAMPLES).filter((f) => f.endsWith('.dcm')).length);
    for (const p of pushes) assert.equal(p.code, 0, `storescu ${p.what}`);
    const refused = node.logs.filter((l) => l.event === 'instance-refused');
    assert.deepEqual(refused.map((l) => `${l.status} ${l.reason}`), []);
    const closed = node.logs.filter((l) => l.event === 'association-close');
    const stored = closed.reduce((n, l) => n + Number(l.stored ?? 0), 0);
    assert.equal(stored, samples.length + stacks.reduce((n, s) => n + s.files, 0));
  });

  it('reads every stored sample when its series job runs (nothing unreadable)', () => {
    assert.deepEqual(node.logs.filter((l) => /unreadable/.test(l.message)).map((l) => l.message), []);
    for (const s of samples) {
      const done = node.logs.find((l) => l.message === 'series job finished' && l.seriesInstanceUid === s.seriesInstanceUid);
      assert.ok(done, s.name);
    }
  });

  it('derives each stack with the same patient, study and series text, in ISO_IR 192', () => {
    assert.equal(derived.length, stacks.length * DERIVED_PER_STACK, 'derived instances at the PACS');
    for (const s of stacks) {
      const mine = derived.filter((d) => d.referencedSeries === s.seriesInstanceUid);
      assert.equal(mine.length, DERIVED_PER_STACK, `${s.name}: derived instances`);
      // The fixture is what it claims: text beyond ASCII, as pydicom reads the source.
      assert.match(`${s.source.PatientName}${s.source.StudyDescription}`, /[^\x00-\x7f]/, `${s.name}: source text`);
      for (const d of mine) {
        assert.equal(d.SpecificCharacterSet, 'ISO_IR 192', s.name);
        assert.equal(d.PatientName, s.source.PatientName, `${s.name}: PatientName`);
        assert.equal(d.StudyDescription, s.source.StudyDescription, `${s.name}: StudyDescription`);
        const suffix = / \[Interslice [^\]]+\]$/.exec(d.SeriesDescription ?? '');
        assert.ok(suffix, `${s.name}: SeriesDescription suffix`);
        assert.equal(d.SeriesDescription!.slice(0, suffix.index), s.source.SeriesDescription, `${s.name}: SeriesDescription`);
      }
      // Patient data never in the node's logs, in whatever character set it came.
      assert.ok(!node.raw().includes(String(s.source.PatientName).split('=')[0]), `${s.name}: patient name logged`);
    }
  });
});
