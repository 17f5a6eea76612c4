// Checks a received dataset from the bytes in memory while the spool writes and fsyncs them.
// The structural walk and the header parse (InstanceMeta) used to re-read the stored file
// after its fsync, in series with it; here they run over the chunks as received, while the
// spool's last write and fsync are in flight. Datasets larger than RETAIN_BYTES are not kept:
// the caller checks the stored file instead.
import type { InstanceMeta } from '../../core/types.js';
import { checkDatasetStructure, selectTopLevel, sliceChunks, type StructureFacts } from './structure-check.js';

/** Most dataset bytes kept per association for the in-memory check (a 1024^2 16-bit slice is 2 MB). */
export const RETAIN_BYTES = 8 * 1024 * 1024;

/** Builds InstanceMeta from a Part-10 head and the dataset up to Pixel Data (throws if unusable). */
export type ParseMeta = (part10Header: Buffer) => InstanceMeta;

export interface CheckResult {
  /** The structural walk's verdict: facts, or the MalformedDataset it threw. */
  structure: StructureFacts | { error: unknown };
  /** The header parse: meta, or what it threw. */
  meta: InstanceMeta | { error: unknown };
}

/** Whether a part of the verdict is a failure. */
export function checkFailed(x: object): x is { error: unknown } {
  return 'error' in x;
}

export class ReceivedCheck {
  private chunks: Buffer[] = [];
  private bytes = 0;
  private overflow = false;

  /**
   * `reads`: the tags of the top-level attributes `parse` uses. Only those are handed to it
   * (parsing a whole header costs ~1 ms, mostly private blocks nobody reads); without it the
   * whole header is.
   */
  constructor(
    private readonly explicitVr: boolean,
    private readonly part10Head: Buffer,
    private readonly parse: ParseMeta,
    private readonly reads?: ReadonlySet<number>,
  ) {}

  push(chunk: Buffer): void {
    if (this.overflow) return;
    this.bytes += chunk.length;
    if (this.bytes > RETAIN_BYTES) {
      this.overflow = true;
      this.chunks = [];
      return;
    }
    this.chunks.push(chunk);
  }

  /**
   * The dataset is complete: the verdict (on the next turn of the event loop, after the spool
   * has sent its last write on its way), or undefined when it was too large to keep.
   */
  finish(): Promise<CheckResult | undefined> {
    return new Promise((resolve) =>
      setImmediate(() => {
        const chunks = this.chunks;
        this.chunks = [];
        resolve(this.overflow ? undefined : this.verdict(chunks));
      }),
    );
  }

  private verdict(chunks: Buffer[]): CheckResult {
    let structure: CheckResult['structure'];
    try {
      structure = checkDatasetStructure(chunks, this.explicitVr, this.reads !== undefined);
    } catch (e) {
      // Reported before anything the header parse might say (the file-based order).
      return { structure: { error: e }, meta: { error: e } };
    }
    // The header ends where the walk found Pixel Data (the whole dataset when there is none).
    const header =
      this.reads && structure.topLevel
        ? selectTopLevel(chunks, structure.topLevel, this.reads)
        : [sliceChunks(chunks, 0, structure.pixelDataAt ?? this.bytes)];
    try {
      return { structure, meta: this.parse(Buffer.concat([this.part10Head, ...header])) };
    } catch (e) {
      return { structure, meta: { error: e } };
    }
  }
}
