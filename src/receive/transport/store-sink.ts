// Where the fast path puts one C-STORE dataset, fragment by fragment. It scans the leading
// bytes for the UIDs, asks the policy whether to store, then streams everything to the spool;
// nothing is decoded and, besides what the spool has not written yet, only the bytes before
// (0020,000E) are held.
//
// Flow control: push() never refuses a chunk; when the spool writes slower than the network
// delivers, the association's socket is paused, and resumed when the spool takes the queue.
import type { Spool, SpoolStored } from '../../core/seams.js';
import { ChunkQueue } from './chunk-queue.js';
import { HeaderScanner, type HeaderFacts } from '../check/header-scan.js';
import { chooseStoreStatus, StoreStatus, type StoreFacts, type SupportedContexts } from './policy.js';

export interface SinkContext {
  commandSopClassUid: string;
  commandSopInstanceUid: string;
  transferSyntaxUid: string;
  explicitVr: boolean;
  contextAccepted: boolean;
  callingAeTitle: string;
  spool: Spool;
  supported: SupportedContexts;
  /** Pause / resume the association's socket (TCP backpressure). */
  pause(): void;
  resume(): void;
  /** Refuse (0xA700) datasets larger than this. */
  maxInstanceBytes?: number;
}

export interface SinkOutcome {
  facts: StoreFacts;
  stored?: SpoolStored;
  header: HeaderFacts;
  /** Dataset bytes received. */
  bytes: number;
}

type Mode = 'scan' | 'stream' | 'discard';

/** Queued, unwritten bytes beyond which the socket is paused. */
const HIGH_WATER = 1024 * 1024;

export class StoreSink {
  readonly outcome: Promise<SinkOutcome>;
  private mode: Mode = 'scan';
  private readonly scanner: HeaderScanner;
  private held: Buffer[] = [];
  private queue?: ChunkQueue;
  private storing?: Promise<SpoolStored | undefined>;
  private writeError?: string;
  private bytes = 0;
  private settle!: (o: SinkOutcome) => void;
  private settled = false;
  private ended = false;

  /** The dataset's VR encoding (for the structure check after it is stored). */
  get explicitVr(): boolean {
    return this.ctx.explicitVr;
  }

  constructor(private readonly ctx: SinkContext) {
    this.scanner = new HeaderScanner(ctx.explicitVr);
    this.outcome = new Promise((resolve) => (this.settle = resolve));
  }

  /**
   * The association ended. Mid-dataset: drop what was written, settle the outcome. Once the
   * dataset is whole (end() was called) nothing is dropped: the spool finishes storing it and
   * the instance is kept, answered or not (a sender that saw no response sends it again and it
   * counts once).
   */
  abort(reason: string): void {
    if (this.ended) return;
    this.writeError ??= reason;
    this.stopStreaming(new Error(reason));
    this.finishOutcome().catch(() => undefined);
  }

  /** Whether the dataset is on its way to the spool (policy said yes, nothing failed so far). */
  get streaming(): boolean {
    return this.mode === 'stream';
  }

  /** The next piece of the dataset. */
  push(chunk: Buffer): void {
    this.bytes += chunk.length;
    if (this.ctx.maxInstanceBytes !== undefined && this.bytes > this.ctx.maxInstanceBytes && this.mode !== 'discard') {
      this.writeError = `instance larger than ${this.ctx.maxInstanceBytes} bytes`;
      this.stopStreaming(new Error(this.writeError));
    }
    if (this.mode === 'scan') {
      this.held.push(chunk);
      if (this.scanner.push(chunk)) this.decide();
    } else if (this.mode === 'stream') {
      if (!this.queue!.push(chunk)) this.ctx.pause();
    }
  }

  /** The dataset is complete. */
  end(): void {
    this.ended = true;
    if (this.mode === 'scan') {
      this.scanner.finish();
      this.decide();
    }
    if (this.mode === 'stream') this.queue!.end();
    this.finishOutcome().catch(() => undefined);
  }

  private facts(): StoreFacts {
    return {
      commandSopClassUid: this.ctx.commandSopClassUid,
      commandSopInstanceUid: this.ctx.commandSopInstanceUid,
      contextAccepted: this.ctx.contextAccepted,
      header: this.scanner.error ? undefined : this.scanner.facts,
      parseError: this.scanner.error,
      writeError: this.writeError,
    };
  }

  /** The header is known (or known to be bad): store it, or discard with a status. */
  private decide(): void {
    const held = this.held;
    this.held = [];
    if (!this.scanner.done || chooseStoreStatus(this.facts(), this.ctx.supported).status !== StoreStatus.success) {
      this.mode = 'discard';
      return;
    }
    const h = this.scanner.facts;
    this.queue = new ChunkQueue(HIGH_WATER, () => this.ctx.resume());
    for (const c of held) this.queue.push(c);
    this.mode = 'stream';
    this.storing = this.ctx.spool
      .store({
        studyInstanceUid: h.studyInstanceUid!,
        seriesInstanceUid: h.seriesInstanceUid!,
        sopInstanceUid: this.ctx.commandSopInstanceUid,
        sopClassUid: this.ctx.commandSopClassUid,
        transferSyntaxUid: this.ctx.transferSyntaxUid,
        dataset: this.queue,
        callingAeTitle: this.ctx.callingAeTitle,
      })
      .catch((e: unknown) => {
        this.writeError ??= e instanceof Error ? e.message : String(e);
        this.stopStreaming(e instanceof Error ? e : new Error(String(e)));
        return undefined;
      });
  }

  /** Stops feeding the spool (it cleans up its temp file) and lets the socket flow again. */
  private stopStreaming(err: Error): void {
    if (this.mode === 'stream') this.queue?.fail(err);
    this.mode = 'discard';
    this.held = [];
    this.ctx.resume();
  }

  private async finishOutcome(): Promise<void> {
    if (this.settled) return;
    const stored = await this.storing;
    if (this.settled) return;
    this.settled = true;
    this.ctx.resume();
    this.settle({ facts: this.facts(), stored: this.writeError ? undefined : stored, header: this.scanner.facts, bytes: this.bytes });
  }
}
