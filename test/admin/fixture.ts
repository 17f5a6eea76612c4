// Real jobs for the admin tests: series from ../shared/data/mr go through the node's own
// per-series pipeline (runStacks: assemble, select, linear interpolation to 1 mm, derive), and
// the results become job records like the orchestrator keeps. Only the node around them is a
// stand-in (nodeOver), with readiness facts a test can flip.
import { readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AdminJob, AdminNode, OutboxEntryView } from '../../src/admin/node-view.js';
import { readInstanceMeta } from '../../src/assemble/instance-meta.js';
import { createLogger } from '../../src/core/log.js';
import { createClassicalInterpolator } from '../../src/interpolate/classical.js';
import { runStacks } from '../../src/pipeline/run-stacks.js';
import { defaultSelectRules } from '../../src/select/rules.js';

export const MR_DATA = resolve(dirname(fileURLToPath(import.meta.url)), '../../../shared/data/mr');

export const seriesFiles = (folder: string) => readdirSync(join(MR_DATA, folder)).sort().map((f) => join(MR_DATA, folder, f));

/** Patient attributes of the shared ASL series, which no admin answer may contain. */
export const ASL_PATIENT = { name: 'Development', id: '999', birthDate: '19990101' };

/** One folder as one series job, processed by runStacks into outDir. */
export async function processFolder(folder: string, outDir: string, jobNo: number): Promise<AdminJob> {
  const metas = await Promise.all(seriesFiles(folder).map((f) => readInstanceMeta(f)));
  const result = await runStacks(metas, {
    target: { spacingMm: 1 },
    interpolator: createClassicalInterpolator('linear'),
    rules: defaultSelectRules,
    outDir: join(outDir, String(jobNo)),
    log: createLogger({ silent: true }),
  });
  // Fixed times, so the page and the screenshot do not change from run to run.
  const startedAt = Date.UTC(2026, 0, 1, 9, jobNo, 0);
  return {
    id: `${metas[0].studyInstanceUid}/${metas[0].seriesInstanceUid}`,
    seriesInstanceUid: metas[0].seriesInstanceUid,
    state: 'done',
    instances: metas.length,
    startedAt,
    finishedAt: startedAt + 2400,
    result: { ...result, stacks: result.stacks.map((s) => ({ ...s, seconds: s.seconds === undefined ? undefined : 0.8 })) },
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
    deadLetters: async () => [],
    retryDead: async () => false,
    superseded: async () => [],
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
