// Reads an association's PDU stream (PS3.8 9.3) as the socket delivers it, in place of
// dcmjs-dimse's reader, which concatenates every socket chunk onto the PDU so far (quadratic
// in the PDU size) and buffers a whole PDU on the strength of its 4-byte length. Here P-DATA-TF
// values come out PDV by PDV as zero-copy slices of the socket's buffers; every other PDU
// (association control: small) comes out whole. A PDU longer than we allow is refused from
// its header, before anything is buffered, so memory per association stays bounded.

const P_DATA_TF = 0x04;
/** A-ASSOCIATE-RQ and friends: generous (user identity, many contexts), still bounded. */
const MAX_CONTROL_PDU = 1024 * 1024;
/** Peers may round; never refuse a PDU within this much of the announced maximum. */
const SLACK = 16 * 1024;

export function maxPduFor(type: number, maxPduLength: number): number {
  return type === P_DATA_TF ? Math.max(maxPduLength, 16 * 1024) + SLACK : MAX_CONTROL_PDU;
}

/** A PDU longer than maxPduFor allows (the connection is cut, nothing buffered). */
export class PduOversize extends Error {}
/** Bytes that are not a well-formed PDU stream (the association is aborted). */
export class PduMalformed extends Error {}

export interface PduSink {
  /** A whole PDU other than P-DATA-TF, its 6-byte header included. */
  control(type: number, pdu: Buffer): void;
  /** Part of one PDV's value (control bit 0: command, bit 1: last fragment); `end` closes the PDV. */
  pdv(pcid: number, control: number, value: Buffer, end: boolean): void;
  /** A PDU has been read to its end. */
  pduDone(): void;
}

type State = 'pdu-header' | 'control-body' | 'pdv-header' | 'pdv-value';

export class PduReader {
  private state: State = 'pdu-header';
  private readonly header = Buffer.alloc(6);
  private have = 0;
  private type = 0;
  /** Bytes of the current PDU body not yet read. */
  private pduLeft = 0;
  /** Bytes of the current PDV value not yet read. */
  private pdvLeft = 0;
  private pcid = 0;
  private control = 0;
  private body: Buffer[] = [];
  private stopped = false;

  constructor(
    private readonly maxPduLength: number,
    private readonly sink: PduSink,
  ) {}

  /** No more bytes are read (the association is being torn down). */
  stop(): void {
    this.stopped = true;
  }

  /** Consumes one socket chunk; throws PduOversize or PduMalformed. */
  push(chunk: Buffer): void {
    let pos = 0;
    while (pos < chunk.length && !this.stopped) {
      switch (this.state) {
        case 'pdu-header':
        case 'pdv-header': {
          const take = Math.min(6 - this.have, chunk.length - pos);
          chunk.copy(this.header, this.have, pos, pos + take);
          this.have += take;
          pos += take;
          if (this.have === 6) {
            this.have = 0;
            if (this.state === 'pdu-header') this.startPdu();
            else this.startPdv();
          }
          break;
        }
        case 'control-body': {
          const take = Math.min(this.pduLeft, chunk.length - pos);
          this.body.push(chunk.subarray(pos, pos + take));
          this.pduLeft -= take;
          pos += take;
          if (this.pduLeft === 0) this.endControl();
          break;
        }
        case 'pdv-value': {
          const take = Math.min(this.pdvLeft, chunk.length - pos);
          this.pdvLeft -= take;
          this.pduLeft -= take;
          const value = chunk.subarray(pos, pos + take);
          pos += take;
          this.sink.pdv(this.pcid, this.control, value, this.pdvLeft === 0);
          if (this.pdvLeft === 0) this.endPdv();
          break;
        }
      }
    }
  }

  private startPdu(): void {
    this.type = this.header[0];
    this.pduLeft = this.header.readUInt32BE(2);
    if (this.type < 1 || this.type > 7) throw new PduMalformed(`unknown PDU type ${this.type}`);
    const limit = maxPduFor(this.type, this.maxPduLength);
    if (this.pduLeft > limit) throw new PduOversize(`PDU type ${this.type} of ${this.pduLeft} bytes exceeds ${limit}`);
    if (this.type !== P_DATA_TF) {
      this.body = [Buffer.from(this.header)];
      this.state = 'control-body';
      if (this.pduLeft === 0) this.endControl();
      return;
    }
    if (this.pduLeft < 6) throw new PduMalformed('P-DATA-TF without a PDV');
    this.state = 'pdv-header';
  }

  private startPdv(): void {
    this.pduLeft -= 6;
    const length = this.header.readUInt32BE(0);
    if (length < 2 || length - 2 > this.pduLeft) throw new PduMalformed(`PDV of ${length} bytes with ${this.pduLeft} left in its PDU`);
    this.pcid = this.header[4];
    this.control = this.header[5];
    this.pdvLeft = length - 2;
    this.state = 'pdv-value';
    if (this.pdvLeft === 0) {
      this.sink.pdv(this.pcid, this.control, Buffer.alloc(0), true);
      this.endPdv();
    }
  }

  private endPdv(): void {
    if (this.pduLeft > 0) {
      if (this.pduLeft < 6) throw new PduMalformed('P-DATA-TF ends inside a PDV header');
      this.state = 'pdv-header';
      return;
    }
    this.state = 'pdu-header';
    this.sink.pduDone();
  }

  private endControl(): void {
    const pdu = Buffer.concat(this.body);
    this.body = [];
    this.state = 'pdu-header';
    this.sink.control(this.type, pdu);
    this.sink.pduDone();
  }
}
