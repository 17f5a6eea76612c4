// One derived UID, one content, forever: real series from ../shared/data/mr through the node's
// per-series pipeline (runStacks with the study registry on disk), run again as a restart or a
// re-sent series would, with late instances, with another target, with a site UID root, with a
// colliding acquired series number, and with an enhanced/classic twin pair.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { readInstanceMeta } from '../../src/assemble/instance-meta.js';
import { createLogger } from '../../src/core/log.js';
import type { InstanceMeta, SpacingTarget } from '../../src/core/types.js';
import { createClassicalInterpolator } from '../../src/interpolate/classical.js';
import { DerivedRegistry } from '../../src/pipeline/derived-registry.js';
import { runStacks, type RunResult } from '../../src/pipeline/run-stacks.js';
import { defaultSelectRules } from '../../src/select/rules.js';
import { seriesFiles } from '../admin/fixture.js';

const log = createLogger({ silent: true });
const work = mkdtempSync(join(tmpdir(), 'interslice-identity-'));
after(() => rmSync(work, { recursive: true, force: true }));

/** SOP Instance UID -> file bytes, read back with the dataset parser under test's neighbour. */
function uidContents(result: RunResult): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const s of result.stacks) {
    for (const f of s.derived?.files ?? []) {
      const bytes = readFileSync(f);
      // The SOP Instance UID sits in the file meta (0002,0003); find it as text after the tag.
      const at = bytes.indexOf(Buffer.from([0x02, 0x00, 0x03, 0x00]));
      const len = bytes.readUInt16LE(at + 6);
      out.set(bytes.toString('latin1', at + 8, at + 8 + len).replace(/\0$/, ''), bytes);
    }
  }
  return out;
}

async function run(metas: InstanceMeta[], dir: string, o: { target?: SpacingTarget; uidRoot?: string } = {}): Promise<RunResult> {
  return runStacks(metas, {
    target: o.target ?? { spacingMm: 1 },
    interpolator: createClassicalInterpolator('linear'),
    rules: defaultSelectRules,
    outDir: join(dir, 'derived'),
    log,
    registry: new DerivedRegistry(join(dir, 'registry')),
    uidRoot: o.uidRoot ?? null,
  });
}

describe('derived UIDs keyed on content', async () => {
  const asl = await Promise.all(seriesFiles('siemens-asl-6mm-thick-7.5mm-spacing').map((f) => readInstanceMeta(f)));

  it('the same input again gives byte-identical instances under the same UIDs, without interpolating', async () => {
    const dir = join(work, 'same');
    const first = await run(asl, dir);
    const a = uidContents(first);
    assert.equal(a.size, 89);
    const second = await run([...asl].reverse(), dir);
    assert.equal(second.stacks[0].reused, true);
    const b = uidContents(second);
    assert.deepEqual([...b.keys()].sort(), [...a.keys()].sort());
    for (const [uid, bytes] of a) assert.ok(bytes.equals(b.get(uid)!), `instance ${uid} differs`);
  });

  it('a late instance gives a new series (new UIDs, new number) that supersedes the first; no UID has two contents', async () => {
    const dir = join(work, 'late');
    const sorted = [...asl].sort((x, y) => (x.instanceNumber ?? 0) - (y.instanceNumber ?? 0));
    const first = await run(sorted.slice(0, 11), dir);
    const second = await run(sorted, dir);
    const d1 = first.stacks[0].derived!;
    const d2 = second.stacks[0].derived!;
    assert.notEqual(d2.seriesInstanceUid, d1.seriesInstanceUid);
    assert.deepEqual(second.stacks[0].superseded, [d1.seriesInstanceUid]);
    const a = uidContents(first);
    const b = uidContents(second);
    for (const uid of b.keys()) assert.ok(!a.has(uid), 'a UID of the first series was reused for other content');
    const study = await new DerivedRegistry(join(dir, 'registry')).get(asl[0].studyInstanceUid);
    const [r1, r2] = [d1, d2].map((d) => study.derived.find((x) => x.seriesInstanceUid === d.seriesInstanceUid)!);
    assert.equal(r1.supersededBy, d2.seriesInstanceUid);
    assert.equal(r2.supersededBy, undefined);
    assert.notEqual(r1.seriesNumber, r2.seriesNumber);
  });

  it('another target spacing gives new UIDs; a site root is used when configured', async () => {
    const dir = join(work, 'target');
    const one = uidContents(await run(asl, dir, { uidRoot: '1.2.826.0.1.3680043.10.1' }));
    const two = uidContents(await run(asl, dir, { target: { spacingMm: 2.5 }, uidRoot: '1.2.826.0.1.3680043.10.1' }));
    for (const uid of [...one.keys(), ...two.keys()]) {
      assert.match(uid, /^1\.2\.826\.0\.1\.3680043\.10\.1\.[1-9][0-9]*$/);
      assert.ok(uid.length <= 64);
    }
    for (const uid of two.keys()) assert.ok(!one.has(uid));
  });

  it('an acquired series that arrives later with the derived series number: the content goes out again under a free number', async () => {
    const dir = join(work, 'collision');
    const first = await run(asl, dir);
    const registry = new DerivedRegistry(join(dir, 'registry'));
    const study = await registry.get(asl[0].studyInstanceUid);
    const taken = study.derived[0].seriesNumber;
    // What runStacks records when that study's other series arrives (a test can't rewrite a scanner).
    study.received['1.2.3.4.5.6.7.8.9.later-acquisition'] = taken;
    await registry.put(study);
    const second = await run(asl, dir);
    const after = await registry.get(asl[0].studyInstanceUid);
    const live = after.derived.filter((d) => !d.supersededBy);
    assert.equal(live.length, 1);
    assert.notEqual(live[0].seriesNumber, taken);
    assert.notEqual(second.stacks[0].derived!.seriesInstanceUid, first.stacks[0].derived!.seriesInstanceUid);
    assert.match(after.derived[0].supersededReason ?? '', /used by an acquired series/);
  });

  it('an enhanced and a classic twin of one acquisition give one derived series', async () => {
    const classic = await Promise.all(seriesFiles('philips-pcasl-oblique-4mm').map((f) => readInstanceMeta(f)));
    const enhanced = await Promise.all(seriesFiles('enhanced').map((f) => readInstanceMeta(f)));
    const result = await run([...classic, ...enhanced], join(work, 'twins'));
    const derived = result.stacks.filter((s) => s.derived);
    const twins = result.stacks.filter((s) => s.decision.code === 'twin');
    assert.equal(result.stacks.length, 2);
    assert.equal(derived.length, 1, result.stacks.map((s) => `${s.label}: ${s.decision.code} ${s.decision.reason}`).join('; '));
    assert.equal(twins.length, 1);
    // The classic images are the ones kept: the derived slices reference them, not the enhanced object.
    const firstFile = readFileSync(derived[0].derived!.files[0]);
    assert.ok(classic.some((m) => firstFile.includes(Buffer.from(m.sopInstanceUid))));
    assert.ok(!firstFile.includes(Buffer.from(enhanced[0].sopInstanceUid)));
  });
});
