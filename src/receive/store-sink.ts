// The Writable that dcmjs-dimse fills with one C-STORE dataset (via the Scp's
// createStoreWritableStream override). It scans the leading bytes for the UIDs, asks the
// policy whether to store, then streams everything to the spool; nothing is decoded and only
// the bytes before (0020,000E) are ever held.
//
// Flow control: dcmjs-dimse awaits 'drain' only for the first write of a dataset and may then
// process later PDUs before earlier PDVs are written (reordering). So write() here always
// returns true (huge highWaterMark, synchronous callback) and backpressure is applied at TCP
// level instead: when the spool reads slower than the network delivers, the socket is paused
// and resumed when the spool asks for more.
import { Readable, Writable } from 'node:stream';
import type { Spool, SpoolStored } from '../core/seams.js';
import { HeaderScanner, type HeaderFacts } from './header-scan.js';
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

export class StoreSink extends Writable {
  readonly outcome: Promise<SinkOutcome>;
  private mode: Mode = 'scan';
  private readonly scanner: HeaderScanner;
  private held: Buffer[] = [];
  private source?: Readable;
  private storing?: Promise<SpoolStored | undefined>;
  private writeError?: string;
  private bytes = 0;
  private settle!: (o: SinkOutcome) => void;
  private settled = false;

  /** The dataset's VR encoding (for the structure check after it is stored). */
  get explicitVr(): boolean {
    return this.ctx.explicitVr;
  }

  constructor(private readonly ctx: SinkContext) {
    super({ highWaterMark: 2 ** 30, decodeStrings: false });
    this.scanner = new HeaderScanner(ctx.explicitVr);
    this.outcome = new Promise((resolve) => (this.settle = resolve));
  }

  /** The association ended mid-dataset: drop what was written, settle the outcome. */
  abort(reason: string): void {
    this.writeError ??= reason;
    this.stopStreaming(new Error(reason));
    this.finishOutcome().catch(() => undefined);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.bytes += chunk.length;
    if (this.ctx.maxInstanceBytes !== undefined && this.bytes > this.ctx.maxInstanceBytes && this.mode !== 'discard') {
      this.writeError = `instance larger than ${this.ctx.maxInstanceBytes} bytes`;
      this.stopStreaming(new Error(this.writeError));
    }
    if (this.mode === 'scan') {
      this.held.push(chunk);
      if (this.scanner.push(chunk)) this.decide();
    } else if (this.mode === 'stream') {
      if (!this.source!.push(chunk)) this.ctx.pause();
    }
    cb();
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (this.mode === 'scan') {
      this.scanner.finish();
      this.decide();
    }
    if (this.mode === 'stream') this.source!.push(null);
    cb();
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
    this.source = new Readable({ highWaterMark: 1024 * 1024, read: () => this.ctx.resume() });
    // The spool sees a destroy(err) through its read loop; this listener only keeps an error
    // raised before the spool starts reading from becoming an uncaught exception.
    this.source.on('error', () => undefined);
    for (const c of held) this.source.push(c);
    this.mode = 'stream';
    this.storing = this.ctx.spool
      .store({
        studyInstanceUid: h.studyInstanceUid!,
        seriesInstanceUid: h.seriesInstanceUid!,
        sopInstanceUid: this.ctx.commandSopInstanceUid,
        sopClassUid: this.ctx.commandSopClassUid,
        transferSyntaxUid: this.ctx.transferSyntaxUid,
        dataset: this.source,
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
    if (this.mode === 'stream' && this.source && !this.source.destroyed) this.source.destroy(err);
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
