// Real jobs for the admin tests: series from ../shared/data/mr go through the node's own assemble,
// select, interpolate and derive code (the same steps as runStacks), and the results become job
// records like the orchestrator keeps. Nothing is mocked but the node around them.
import { readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readInstanceMeta } from '../../src/assemble/instance-meta.js';
import { loadRawSlice, loadStackVolume } from '../../src/assemble/pixels.js';
import { assembleStacks } from '../../src/assemble/stacks.js';
import type { AdminJob, AdminNode, OutboxEntryView } from '../../src/admin/node-view.js';
import { writeDerivedSeries } from '../../src/derive/write-series.js';
import { readPart10 } from '../../src/dicom/dcmjs.js';
import { createClassicalInterpolator } from '../../src/interpolate/classical.js';
import { planOutputSlices } from '../../src/interpolate/plan.js';
import type { StackOutcome } from '../../src/pipeline/run-stacks.js';
import { selectStack } from '../../src/select/rules.js';

export const MR_DATA = resolve(dirname(fileURLToPath(import.meta.url)), '../../../shared/data/mr');

export const seriesFiles = (folder: string) => readdirSync(join(MR_DATA, folder)).sort().map((f) => join(MR_DATA, folder, f));

/** Patient attributes of the shared ASL series, which no admin answer may contain. */
export const ASL_PATIENT = { name: 'Development', id: '999', birthDate: '19990101' };

/** One series through assemble -> select -> (linear interpolation to 1 mm -> derive). */
export async function processFolder(folder: string, outDir: string, jobNo: number): Promise<AdminJob> {
  const files = seriesFiles(folder);
  const metas = await Promise.all(files.map((f) => readInstanceMeta(f)));
  const { stacks, unplaced } = assembleStacks(metas);
  const interpolator = createClassicalInterpolator('linear');
  const startedAt = Date.UTC(2026, 0, 1, 9, jobNo, 0);
  const outcomes: StackOutcome[] = [];
  for (const [i, stack] of stacks.entries()) {
    const d = selectStack(stack);
    const base: StackOutcome = {
      stackId: stack.id,
      label: stack.label,
      slices: stack.slices.length,
      volumes: stack.volumes,
      decision: { action: d.action, code: d.code, reason: d.reason },
      issues: stack.issues,
    };
    if (d.action !== 'process') {
      outcomes.push(base);
      continue;
    }
    const volume = await loadStackVolume(stack);
    const plan = planOutputSlices(volume.distances, { spacingMm: 1 });
    const synthesised = await interpolator.interpolate(volume, plan);
    const derived = await writeDerivedSeries({
      stack,
      referenceHeader: (await readPart10(stack.slices[0].instance.path, { headerOnly: true })).dataset,
      plan,
      synthesised,
      loadRawSlice: (k) => loadRawSlice(stack.slices[k]),
      outDir: join(outDir, `${jobNo}-${i}`),
      method: interpolator.method,
      interpolatorDescription: interpolator.description,
      target: { spacingMm: 1 },
    });
    outcomes.push({ ...base, derived, seconds: 0.8 });
  }
  return {
    id: `${metas[0].studyInstanceUid}/${metas[0].seriesInstanceUid}`,
    seriesInstanceUid: metas[0].seriesInstanceUid,
    state: 'done',
    instances: metas.length,
    startedAt,
    finishedAt: startedAt + 2400,
    result: { stacks: outcomes, unplaced: unplaced.map((u) => ({ sopInstanceUid: u.instance.sopInstanceUid, reason: u.reason })) },
  };
}

export interface FakeChecks {
  listener: boolean;
  model: boolean;
  /** Destination name -> answers C-ECHO. */
  destinations: Record<string, boolean>;
}

/** An AdminNode over job records, with readiness facts the test can flip. */
export function nodeOver(jobs: AdminJob[], folders: Map<string, string>, checks: FakeChecks, outbox: OutboxEntryView[] = []): AdminNode {
  return {
    jobs: () => jobs.values(),
    queueDepth: async () => ({ series: { queued: jobs.filter((j) => j.state === 'waiting').length, leased: 0, dead: 0 } }),
    outbox: async () => outbox,
    listenerUp: () => checks.listener,
    modelLoaded: () => checks.model,
    destinations: () => Object.keys(checks.destinations),
    echo: async (name) => {
      if (!checks.destinations[name]) throw new Error(`association to ${name} rejected`);
    },
    sourceFiles: async (job) => {
      const folder = folders.get(job.id);
      return folder ? seriesFiles(folder) : [];
    },
  };
}

/** The ASL series processed, the localizers skipped, and one series still arriving. */
export async function standardJobs(outDir: string): Promise<{ jobs: AdminJob[]; folders: Map<string, string> }> {
  const folders = new Map<string, string>();
  const asl = await processFolder('siemens-asl-6mm-thick-7.5mm-spacing', outDir, 1);
  folders.set(asl.id, 'siemens-asl-6mm-thick-7.5mm-spacing');
  const loc = await processFolder('siemens-localizers', outDir, 2);
  folders.set(loc.id, 'siemens-localizers');
  const waiting: AdminJob = { id: '1.2.3/1.2.3.4', seriesInstanceUid: '1.2.3.4', state: 'waiting', instances: 7 };
  return { jobs: [asl, loc, waiting], folders };
}
