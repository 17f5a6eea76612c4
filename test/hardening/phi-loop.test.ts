// No PHI in logs, and the loop guard over the network. Every folder of ../shared/data/mr goes
// through a real `interslice serve` (debug log level, so the most lines) to storescp; every log
// line (stderr and the log file) is then scanned for the data's PatientName, PatientID and
// PatientBirthDate values read from the files. Then the derived series the PACS received are
// pushed back to the node: each must be skipped as derived-by-us and nothing sent again.
import assert from 'node:assert/strict';
import { linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readPart10, str } from '../../src/dicom/dcmjs.js';
import { MR_DIR, startStorescp, storescu, type Storescp } from '../helpers/peers.js';
import { serve, until, type Served } from '../helpers/serve.js';
import { containsToken } from '../helpers/phi.js';

// ASL, pCASL, 2 Canon, 4 field map stacks, the mixed folder's MR: the Enhanced pCASL is the
// classic pCASL's twin (same series and acquisition) and gives no second series.
const DERIVED_SERIES = 9;
const FULL = process.env.INTERSLICE_HARDENING_FULL === '1';
const FOLDERS = readdirSync(MR_DIR).filter((n) => statSync(join(MR_DIR, n)).isDirectory() && n !== 'LICENSES');

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

function pnText(v: unknown): string | undefined {
  const first = Array.isArray(v) ? v[0] : v;
  if (first && typeof first === 'object') return str((first as { Alphabetic?: string }).Alphabetic);
  return str(first);
}

/** The patient values of the shared data, plus name components long enough to be telling. */
async function phiValues(): Promise<string[]> {
  const values = new Set<string>();
  for (const folder of FOLDERS) {
    for (const f of filesUnder(join(MR_DIR, folder))) {
      const { dataset } = await readPart10(f, { headerOnly: true });
      const name = pnText(dataset.PatientName);
      for (const v of [name, str(dataset.PatientID), str(dataset.PatientBirthDate)]) if (v) values.add(v);
      for (const part of name?.split('^') ?? []) if (part.length >= 5) values.add(part);
    }
  }
  return [...values];
}

function stringsOf(v: unknown, out: string[] = []): string[] {
  if (typeof v === 'string' || typeof v === 'number') out.push(String(v));
  else if (Array.isArray(v)) v.forEach((x) => stringsOf(x, out));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) (out.push(k), stringsOf(x, out));
  return out;
}

describe('no PHI in logs; loop guard over the network', () => {
  const work = mkdtempSync(join(tmpdir(), 'interslice-phi-'));
  const logFile = join(work, 'node.log');
  let pacs: Storescp;
  let node: Served;

  before(async () => {
    mkdirSync(join(work, 'pacs'), { recursive: true });
    pacs = await startStorescp(join(work, 'pacs'), { aeTitle: 'PACS' });
    node = await serve({
      work,
      config: [
        'dicom: { aeTitle: INTERSLICE, host: 127.0.0.1, port: 0 }',
        `storage: { dir: ${JSON.stringify(join(work, 'var'))}, minFreeMb: 0 }`,
        'pipeline: { stableSeconds: 2, method: linear }',
        'send: { baseDelaySeconds: 1, maxDelaySeconds: 5 }',
        `destinations: [ { name: pacs, aeTitle: PACS, host: 127.0.0.1, port: ${pacs.port} } ]`,
        `log: { level: debug, file: ${JSON.stringify(logFile)} }`,
        'admin: { enabled: false }',
      ],
    });
  });

  after(async () => {
    await node?.stop();
    await pacs?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('logs no patient name, ID or birth date for a push of all the shared data', async () => {
    for (const folder of FOLDERS) await storescu('127.0.0.1', node.port, [join(MR_DIR, folder)], { callingAe: 'MODALITY', timeoutMs: 120_000 });
    // Done when the derived series MANIFEST.md implies have been delivered and no job is running.
    await until(
      () => {
        const jobsOpen = node.logs.filter((l) => l.message === 'series job started').length - node.logs.filter((l) => l.message === 'series job finished').length;
        return jobsOpen === 0 && node.logs.filter((l) => l.event === 'send-done').length >= DERIVED_SERIES;
      },
      240_000,
      'every derived series delivered',
    );
    const phi = await phiValues();
    assert.ok(phi.length >= 8, `PHI values found: ${phi.length}`);
    const fileLines = readFileSync(logFile, 'utf8').split('\n').filter(Boolean);
    const rawLines = node.raw().split('\n').filter(Boolean);
    assert.ok(rawLines.length > 500 && fileLines.length > 500, `lines: ${rawLines.length} stderr, ${fileLines.length} file`);
    const leaks: string[] = [];
    for (const line of [...rawLines, ...fileLines]) {
      let texts: string[];
      try {
        texts = stringsOf(JSON.parse(line));
      } catch {
        texts = [line];
      }
      for (const v of phi) if (texts.some((t) => containsToken(t, v))) leaks.push(`${v} in ${line.slice(0, 200)}`);
    }
    assert.deepEqual(leaks.slice(0, 5), [], `${leaks.length} log lines carry patient data`);
    console.log(`PHI scan: ${rawLines.length + fileLines.length} log lines, ${phi.length} patient values, 0 found`);
  });

  it('skips a derived series pushed back to it (derived-by-us) and sends nothing', async () => {
    const atPacs = readdirSync(join(work, 'pacs')).length;
    const queuedBefore = node.logs.filter((l) => l.event === 'send-queued').length;
    const written = node.logs.filter((l) => l.message === 'derived series written');
    // Two derived series (a classic source and the Enhanced one) by default; all ten with
    // INTERSLICE_HARDENING_FULL=1 (about 20 s more).
    const sample = FULL ? written : [written[0], written.find((l) => l.slices === 157) ?? written[1]];
    const derivedSeries = new Set(sample.map((l) => String(l.derivedSeriesInstanceUid)));
    const back = join(work, 'back');
    mkdirSync(back);
    let files = 0;
    for (const f of readdirSync(join(work, 'pacs'))) {
      const { dataset } = await readPart10(join(work, 'pacs', f), { headerOnly: true });
      if (derivedSeries.has(String(dataset.SeriesInstanceUID))) (linkSync(join(work, 'pacs', f), join(back, f)), files++);
    }
    const pushed = await storescu('127.0.0.1', node.port, [back], { callingAe: 'PACS', timeoutMs: 120_000 });
    assert.equal(pushed.code, 0, pushed.stderr);
    const decided = () => node.logs.filter((l) => l.message === 'stack decision' && derivedSeries.has(String(l.seriesInstanceUid)));
    await until(() => new Set(decided().map((l) => l.seriesInstanceUid)).size === derivedSeries.size, 60_000, 'decisions on the returned series');
    assert.ok(decided().every((l) => l.action === 'skip' && l.code === 'derived-by-us'), JSON.stringify(decided().map((l) => l.code)));
    await new Promise((r) => setTimeout(r, 3000));
    assert.equal(node.logs.filter((l) => l.event === 'send-queued').length, queuedBefore, 'nothing queued for sending');
    assert.equal(readdirSync(join(work, 'pacs')).length, atPacs);
    console.log(`loop guard: ${derivedSeries.size} derived series (${files} instances) pushed back, all skipped as derived-by-us`);
  });
});
