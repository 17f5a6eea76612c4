// The jobs as /api/jobs and the status page show them: states, timings, decisions, derived
// series UIDs and counts, delivery states. Built field by field from the job records (never by
// copying objects), so no patient attribute or file path can slip into the answer.
import { jobKey, PictureStore } from './pictures.js';
import type { AdminJob, OutboxEntryView } from './node-view.js';
import { CUTS, type PictureKind } from './render.js';

export interface DeliveryView {
  destination?: string;
  state: OutboxEntryView['state'];
  attempts?: number;
  lastError?: string;
}

export interface StackView {
  index: number;
  label: string;
  slices: number;
  volumes: number;
  decision: { action: string; code: string; reason: string };
  issues: string[];
  seconds?: number;
  error?: string;
  derived?: { seriesInstanceUid: string; sliceCount: number; spacingMm: number; deliveries: DeliveryView[] };
  /** Picture URLs per cut, present when the stack was processed. */
  pictures?: { cut: string; source: string; viewer: string; derived: string }[];
}

export interface JobView {
  key: string;
  seriesInstanceUid: string;
  state: AdminJob['state'];
  instances: number;
  startedAt?: string;
  finishedAt?: string;
  seconds?: number;
  error?: string;
  stacks: StackView[];
  unplaced: number;
}

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

export function pictureUrl(job: AdminJob, stackIndex: number, cut: string, which: PictureKind): string {
  return `/jobs/${jobKey(job.id)}/${stackIndex}-${cut}-${which}.png`;
}

export function jobView(job: AdminJob, outbox: OutboxEntryView[]): JobView {
  const stacks: StackView[] = (job.result?.stacks ?? []).map((s, index) => {
    const v: StackView = {
      index,
      label: s.label,
      slices: s.slices,
      volumes: s.volumes,
      decision: { action: s.decision.action, code: s.decision.code, reason: s.decision.reason },
      issues: [...s.issues],
    };
    if (s.seconds !== undefined) v.seconds = s.seconds;
    if (s.error !== undefined) v.error = s.error;
    if (s.derived) {
      const uid = s.derived.seriesInstanceUid;
      v.derived = {
        seriesInstanceUid: uid,
        sliceCount: s.derived.sliceCount,
        spacingMm: s.derived.spacingMm,
        deliveries: outbox
          .filter((e) => e.seriesId === uid)
          .map((e) => ({ destination: e.destination, state: e.state, attempts: e.attempts, lastError: e.lastError })),
      };
    }
    if (PictureStore.hasPictures(job, index)) {
      v.pictures = CUTS.map((cut) => ({ cut, source: pictureUrl(job, index, cut, 'source'), viewer: pictureUrl(job, index, cut, 'viewer'), derived: pictureUrl(job, index, cut, 'derived') }));
    }
    return v;
  });
  const view: JobView = {
    key: jobKey(job.id),
    seriesInstanceUid: job.seriesInstanceUid,
    state: job.state,
    instances: job.instances,
    startedAt: iso(job.startedAt),
    finishedAt: iso(job.finishedAt),
    stacks,
    unplaced: job.result?.unplaced.length ?? 0,
  };
  if (job.startedAt !== undefined && job.finishedAt !== undefined) view.seconds = (job.finishedAt - job.startedAt) / 1000;
  if (job.error !== undefined) view.error = job.error;
  return view;
}

/** Most recent first: running and waiting jobs, then finished ones by finish time. */
export function recentJobs(jobs: Iterable<AdminJob>, limit = 50): AdminJob[] {
  const when = (j: AdminJob) => j.finishedAt ?? j.startedAt ?? Number.MAX_SAFE_INTEGER;
  return [...jobs].sort((a, b) => when(b) - when(a)).slice(0, limit);
}
