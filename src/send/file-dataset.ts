// A dcmjs-dimse Dataset backed by a Part-10 file whose dataset bytes are sent as they are on
// disk. dcmjs-dimse's own CStoreRequest(file) parses the file and re-encodes it with its
// bundled dcmjs at send time, which drops private elements it cannot name and truncates
// over-long values. Here the bytes after the file meta go out untouched whenever the peer
// accepts the file's transfer syntax; only when it does not does dcmjs-dimse transcode, from
// the parsed elements (getElements), as before.
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import dimse from '../dicom/dimse.js';
import { fileMetaValues } from '../dicom/header-reader.js';

export interface FileMeta {
  sopClassUid: string;
  sopInstanceUid: string;
  transferSyntaxUid: string;
  /** Offset of the dataset (first byte after the file meta group). */
  datasetOffset: number;
}

/** Reads the File Meta Information group (Explicit VR LE) of a Part-10 file. */
export function readFileMeta(path: string): FileMeta {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(144);
    if (readSync(fd, head, 0, 144, 0) < 144 || head.toString('latin1', 128, 132) !== 'DICM') throw new Error('not a Part-10 file');
    if (head.readUInt32LE(132) !== 0x00000002 || head.toString('latin1', 136, 138) !== 'UL') throw new Error('no file meta group length');
    const groupLength = head.readUInt32LE(140);
    if (groupLength > 1 << 20) throw new Error('file meta group too long');
    const group = Buffer.alloc(groupLength);
    if (readSync(fd, group, 0, groupLength, 144) < groupLength) throw new Error('truncated file meta');
    const values = fileMetaValues(group);
    const meta = { sopClassUid: values[0x0002], sopInstanceUid: values[0x0003], transferSyntaxUid: values[0x0010], datasetOffset: 144 + groupLength };
    if (!meta.sopClassUid || !meta.sopInstanceUid || !meta.transferSyntaxUid) throw new Error('file meta lacks SOP class, instance or transfer syntax');
    return meta;
  } finally {
    closeSync(fd);
  }
}

export class FileDataset extends dimse.Dataset {
  private parsed?: Record<string, unknown>;

  constructor(
    private readonly path: string,
    private readonly meta: FileMeta = readFileMeta(path),
  ) {
    super({ SOPClassUID: meta.sopClassUid, SOPInstanceUID: meta.sopInstanceUid }, meta.transferSyntaxUid);
  }

  /** The dataset bytes exactly as stored (read when the request is sent). */
  override getDenaturalizedDataset(): Buffer {
    return readFileSync(this.path).subarray(this.meta.datasetOffset);
  }

  /** Parsed elements, only needed when dcmjs-dimse must transcode for the peer. */
  override getElements(): Record<string, unknown> {
    this.parsed ??= dimse.Dataset.fromFile(this.path)!.getElements();
    return this.parsed;
  }
}
