// Load: 8 concurrent storescu associations of 500 instances each (4000 instances, 64x64, made
// from one real ASL instance with new UIDs) into a real `interslice serve`. Zero failures,
// nothing lost: the spool holds exactly 4000 files, each acknowledged once. The pipeline's
// quiet period is set long so the test measures receiving only.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parsePart10, writePart10 } from '../../src/dicom/dcmjs.js';
import { MR_DIR, storescu } from '../helpers/peers.js';
import { serve } from '../helpers/serve.js';

const ASSOCIATIONS = Number(process.env.INTERSLICE_LOAD_ASSOCIATIONS ?? 8);
const PER_ASSOCIATION = Number(process.env.INTERSLICE_LOAD_INSTANCES ?? 500);

/** Fixed-width UID placeholders, so each copy is the template with digits overwritten in place. */
const SERIES_MARK = '2.25.1000000000000000000001';
const SOP_MARK = '2.25.2000000000000000000000000001';

function replaceAll(buf: Buffer, mark: string, value: string): void {
  const m = Buffer.from(mark, 'latin1');
  const v = Buffer.from(value, 'latin1');
  for (let at = buf.indexOf(m); at >= 0; at = buf.indexOf(m, at + m.length)) v.copy(buf, at);
}

function generate(dir: string): string[] {
  const asl = join(MR_DIR, 'siemens-asl-6mm-thick-7.5mm-spacing');
  const { dataset } = parsePart10(readFileSync(join(asl, readdirSync(asl).sort()[0])));
  dataset.SeriesInstanceUID = SERIES_MARK;
  dataset.SOPInstanceUID = SOP_MARK;
  const template = writePart10(dataset, { sopClassUid: String(dataset.SOPClassUID), sopInstanceUid: SOP_MARK });
  const dirs: string[] = [];
  for (let a = 0; a < ASSOCIATIONS; a++) {
    const d = join(dir, `assoc-${a}`);
    mkdirSync(d, { recursive: true });
    for (let i = 0; i < PER_ASSOCIATION; i++) {
      const b = Buffer.from(template);
      replaceAll(b, SERIES_MARK, `2.25.1${'0'.repeat(17)}${String(a).padStart(4, '0')}`);
      replaceAll(b, SOP_MARK, `2.25.2${String(a).padStart(3, '0')}${String(i).padStart(24, '0')}`);
      writeFileSync(join(d, `${String(i).padStart(4, '0')}.dcm`), b);
    }
    dirs.push(d);
  }
  return dirs;
}

describe('load', () => {
  const work = mkdtempSync(join(tmpdir(), 'interslice-load-'));
  after(() => rmSync(work, { recursive: true, force: true }));

  it(`holds ${ASSOCIATIONS} concurrent associations of ${PER_ASSOCIATION} instances with zero failures`, async () => {
    const dirs = generate(join(work, 'input'));
    const node = await serve({
      work,
      config: [
        'dicom: { aeTitle: INTERSLICE, host: 127.0.0.1, port: 0 }',
        `storage: { dir: ${JSON.stringify(join(work, 'var'))}, minFreeMb: 0 }`,
        'pipeline: { stableSeconds: 3600 }',
        'admin: { enabled: false }',
      ],
    });
    try {
      const started = Date.now();
      const results = await Promise.all(dirs.map((d, a) => storescu('127.0.0.1', node.port, [d], { callingAe: `LOAD${a}`, timeoutMs: 300_000 })));
      const seconds = (Date.now() - started) / 1000;
      results.forEach((r, a) => assert.equal(r.code, 0, `association ${a}: ${r.stderr.slice(-500)}`));
      const total = ASSOCIATIONS * PER_ASSOCIATION;
      const spooled = readdirSync(join(work, 'var', 'spool'), { recursive: true }).filter((n) => String(n).endsWith('.dcm')).length;
      assert.equal(spooled, total, 'spool count');
      const stored = node.logs.filter((l) => l.event === 'instance-stored' && l.duplicate === false).length;
      const refused = node.logs.filter((l) => l.event === 'instance-refused').length;
      assert.equal(stored, total);
      assert.equal(refused, 0);
      console.log(
        `load: ${total} instances over ${ASSOCIATIONS} concurrent associations in ${seconds.toFixed(1)} s ` +
          `(${(total / seconds).toFixed(0)} instances/s), 0 failures, spool holds ${spooled}, RSS ${node.rssMb().toFixed(0)} MB`,
      );
    } finally {
      await node.stop();
    }
  });
});
