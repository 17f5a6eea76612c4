// Prometheus metrics (prom-client) on a registry of our own, so tests can make a fresh one and
// nothing else in the process (a library's default registry) leaks into /metrics. The shared
// `metrics` object is installed as the stages' recorder (core/metrics.ts); they never see it.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { setStageMetrics, type StageMetrics } from '../core/metrics.js';

/** One queue-depth sample: which queue (series jobs, outbox, ...), which state, how many. */
export interface DepthSample {
  queue: string;
  state: string;
  count: number;
}

/** Read on every scrape, so the gauges are never stale (no timer keeps them up to date). */
export type DepthSource = () => Promise<DepthSample[]> | DepthSample[];

export type { SendAttemptResult, SendFinalResult } from '../core/metrics.js';

/** The stages' recorder (core/metrics.ts) on a Prometheus registry, plus what /metrics needs. */
export interface Metrics extends StageMetrics {
  readonly registry: Registry;
  /** Where the queue-depth gauges come from (the running node's queue and outbox). */
  setDepthSource(source: DepthSource | undefined): void;
  /** Where the destination-up gauge comes from (the last C-ECHO per destination). */
  setDestinationSource?(source: (() => { destination: string; up: boolean }[]) | undefined): void;
  /** Labels on every series, e.g. { role: 'receive' }: clustered, one scrape target per process and role. */
  setDefaultLabels(labels: Record<string, string>): void;
  /** Prometheus text exposition. */
  text(): Promise<string>;
  readonly contentType: string;
}

const PREFIX = 'interslice_';

export { refusalReason, rejectReason } from '../core/metrics.js';

export function createMetrics(opts: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  const registers = [registry];
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });

  const associations = new Counter({
    name: `${PREFIX}associations_total`,
    help: 'DICOM association requests answered, by result (accepted/rejected) and reject reason',
    labelNames: ['result', 'reason'] as const,
    registers,
  });
  const received = new Counter({
    name: `${PREFIX}instances_received_total`,
    help: 'Instances stored in the spool; duplicate=true when the SOP Instance UID was already stored',
    labelNames: ['duplicate'] as const,
    registers,
  });
  const refused = new Counter({
    name: `${PREFIX}instances_refused_total`,
    help: 'C-STORE requests answered with a failure status, by reason',
    labelNames: ['reason'] as const,
    registers,
  });
  const stacks = new Counter({
    name: `${PREFIX}stacks_total`,
    help: 'Stacks decided by the select stage, by action (process/skip) and decision code',
    labelNames: ['action', 'code'] as const,
    registers,
  });
  const inference = new Histogram({
    name: `${PREFIX}inference_seconds`,
    help: 'Wall time of one stack interpolation, by method',
    labelNames: ['method'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
    registers,
  });
  const adaptation = new Histogram({
    name: `${PREFIX}adaptation_seconds`,
    help: 'Wall time of one per-series adaptation of the model (pipeline.adapt), by outcome (kept, not-kept, failed, reused)',
    labelNames: ['outcome'] as const,
    buckets: [0.1, 1, 5, 10, 30, 60, 120, 300, 600],
    registers,
  });
  const synthesised = new Counter({
    name: `${PREFIX}slices_synthesised_total`,
    help: 'Slices synthesised by interpolation and written into derived series',
    registers,
  });
  const sendAttempts = new Counter({
    name: `${PREFIX}send_attempts_total`,
    help: 'C-STORE delivery attempts of derived series, by destination and result (success/failure)',
    labelNames: ['destination', 'result'] as const,
    registers,
  });
  const sendRetries = new Counter({
    name: `${PREFIX}send_retries_total`,
    help: 'Failed deliveries scheduled again with backoff, by destination',
    labelNames: ['destination'] as const,
    registers,
  });
  const sendResults = new Counter({
    name: `${PREFIX}send_results_total`,
    help: 'Derived series deliveries that reached a final state, by destination and result (done/dead)',
    labelNames: ['destination', 'result'] as const,
    registers,
  });

  const jobFailures = new Counter({
    name: `${PREFIX}job_failures_total`,
    help: 'Series job failures, by outcome (retry: transient, scheduled again; dead: in the dead letter) and reason (error code, inference, memory, data)',
    labelNames: ['outcome', 'reason'] as const,
    registers,
  });

  let depthSource: DepthSource | undefined;
  new Gauge({
    name: `${PREFIX}queue_depth`,
    help: 'Entries per queue (series jobs, outbox) and state, read at scrape time',
    labelNames: ['queue', 'state'] as const,
    registers,
    async collect() {
      this.reset();
      if (!depthSource) return;
      try {
        for (const s of await depthSource()) this.set({ queue: s.queue, state: s.state }, s.count);
      } catch {
        // A failing source must not break the whole scrape; the gauge is simply absent.
      }
    },
  });

  let destinationSource: (() => { destination: string; up: boolean }[]) | undefined;
  new Gauge({
    name: `${PREFIX}destination_up`,
    help: 'Whether each destination answered its last C-ECHO (1) or not (0); derived series for a destination that is down wait in the outbox',
    labelNames: ['destination'] as const,
    registers,
    collect() {
      this.reset();
      for (const d of destinationSource?.() ?? []) this.set({ destination: d.destination }, d.up ? 1 : 0);
    },
  });

  return {
    registry,
    contentType: registry.contentType,
    associationAccepted: () => associations.inc({ result: 'accepted', reason: '' }),
    associationRejected: (reason) => associations.inc({ result: 'rejected', reason }),
    instanceReceived: (o) => received.inc({ duplicate: String(o?.duplicate ?? false) }),
    instanceRefused: (reason) => refused.inc({ reason }),
    stackDecision: (action, code) => stacks.inc({ action, code }),
    inferenceSeconds: (method, seconds) => inference.observe({ method }, seconds),
    adaptation: (outcome, seconds) => adaptation.observe({ outcome }, seconds),
    slicesSynthesised: (count) => {
      if (count > 0) synthesised.inc(count);
    },
    jobFailed: (outcome, reason) => jobFailures.inc({ outcome, reason }),
    sendAttempt: (destination, result) => sendAttempts.inc({ destination, result }),
    sendRetry: (destination) => sendRetries.inc({ destination }),
    sendResult: (destination, result) => sendResults.inc({ destination, result }),
    setDepthSource: (source) => {
      depthSource = source;
    },
    setDestinationSource: (source) => {
      destinationSource = source;
    },
    setDefaultLabels: (labels) => registry.setDefaultLabels(labels),
    text: () => registry.metrics(),
  };
}

/** The process-wide metrics the stages record into and /metrics serves. */
export const metrics: Metrics = createMetrics();
setStageMetrics(metrics);
