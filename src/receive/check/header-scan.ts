// Incremental scan of a dataset's leading elements as it streams in, for the four UIDs the
// spool path and the status checks need (SOP class/instance in group 0008, study/series in
// group 0020). It parses element headers only (Little Endian, Implicit or Explicit VR,
// undefined-length sequences included) and stops after (0020,000E), so it reads a few KB of a
// typical MR header and never decodes or re-encodes anything.
import {
  HeaderTruncated, ITEM, ITEM_END, readElementHeader, SEQUENCE_END, uidValue, UNDEFINED_LENGTH, validVr, type ElementHeader,
} from '../../dicom/header-reader.js';

export interface HeaderFacts {
  sopClassUid?: string;
  sopInstanceUid?: string;
  studyInstanceUid?: string;
  seriesInstanceUid?: string;
}

const WANTED: Record<number, keyof HeaderFacts> = {
  0x00080016: 'sopClassUid',
  0x00080018: 'sopInstanceUid',
  0x0020000d: 'studyInstanceUid',
  0x0020000e: 'seriesInstanceUid',
};
const STOP_AFTER = 0x0020000e;
const MAX_DEPTH = 16;

/** The bytes so far end inside an element header or a value the scan must see: wait for more. */
class NeedMore extends Error {}

function readHeader(buf: Buffer, pos: number, explicit: boolean): ElementHeader {
  let h: ElementHeader;
  try {
    h = readElementHeader(buf, pos, explicit);
  } catch (e) {
    throw e instanceof HeaderTruncated ? new NeedMore() : e;
  }
  if (explicit && h.group !== 0xfffe && !validVr(h.vr)) throw new Error(`invalid VR at offset ${pos}`);
  return h;
}

/** Skips the items of an undefined-length sequence starting at pos; returns the end offset. */
function skipSequence(buf: Buffer, pos: number, explicit: boolean, depth: number): number {
  if (depth > MAX_DEPTH) throw new Error('sequences nested too deeply');
  for (;;) {
    const h = readHeader(buf, pos, false);
    pos += 8;
    if (h.tag === SEQUENCE_END) return pos;
    if (h.tag !== ITEM) throw new Error(`unexpected tag ${h.tag.toString(16)} in sequence`);
    if (h.length !== UNDEFINED_LENGTH) {
      pos += h.length;
      if (pos > buf.length) throw new NeedMore();
      continue;
    }
    // Undefined-length item: its elements until the item delimiter.
    for (;;) {
      const e = readHeader(buf, pos, explicit);
      if (e.tag === ITEM_END) {
        pos += 8;
        break;
      }
      pos += e.headerLength;
      if (e.length === UNDEFINED_LENGTH) {
        // UN of undefined length holds Implicit VR content (PS3.5 6.2.2).
        pos = skipSequence(buf, pos, explicit && e.vr !== 'UN', depth + 1);
      } else {
        pos += e.length;
        if (pos > buf.length) throw new NeedMore();
      }
    }
  }
}

/**
 * Feed chunks with push(); read `facts` once `done`. Holds only the bytes of the element it is
 * parsing (large values before group 0020 are skipped without being kept) and gives up with
 * `error` on malformed input or when more than `maxScanBytes` pass without reaching the end.
 */
export class HeaderScanner {
  readonly facts: HeaderFacts = {};
  done = false;
  error?: string;
  private pending: Buffer = Buffer.alloc(0);
  private skip = 0;
  private seen = 0;

  constructor(
    private readonly explicitVr: boolean,
    private readonly maxScanBytes = 16 * 1024 * 1024,
  ) {}

  /** Returns true once the scan is decided (done or error). */
  push(chunk: Buffer): boolean {
    if (this.done || this.error) return true;
    this.seen += chunk.length;
    if (this.skip > 0) {
      const n = Math.min(this.skip, chunk.length);
      this.skip -= n;
      chunk = chunk.subarray(n);
    }
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    try {
      this.parse();
    } catch (e) {
      if (!(e instanceof NeedMore)) this.error = e instanceof Error ? e.message : String(e);
    }
    if (!this.done && !this.error && this.seen > this.maxScanBytes) {
      this.error = `no SeriesInstanceUID within the first ${this.maxScanBytes} bytes`;
    }
    return this.done || this.error !== undefined;
  }

  /** End of the dataset: whatever was found is all there is. */
  finish(): void {
    if (this.done || this.error) return;
    if (this.skip > 0 || this.pending.length > 0) this.error = 'dataset ends inside an element';
    else this.done = true;
  }

  private parse(): void {
    let pos = 0;
    try {
      while (!this.done) {
        const h = readHeader(this.pending, pos, this.explicitVr);
        if (h.tag > STOP_AFTER) {
          this.done = true;
          break;
        }
        let next = pos + h.headerLength;
        if (h.length === UNDEFINED_LENGTH) {
          next = skipSequence(this.pending, next, this.explicitVr && h.vr !== 'UN', 0);
        } else {
          const key = WANTED[h.tag];
          if (key) {
            if (next + h.length > this.pending.length) throw new NeedMore();
            this.facts[key] = uidValue(this.pending.subarray(next, next + h.length));
            if (h.tag === STOP_AFTER) this.done = true;
          }
          next += h.length;
          if (next > this.pending.length) {
            // A value we do not need that runs past what we have: skip it as it arrives.
            this.skip = next - this.pending.length;
            next = this.pending.length;
          }
        }
        pos = next;
      }
    } finally {
      this.pending = this.pending.subarray(pos);
    }
  }
}
