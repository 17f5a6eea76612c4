// Splits P-DATA-TF traffic between the C-STORE fast path and dcmjs-dimse. A C-STORE-RQ with a
// dataset goes to a store target fragment by fragment (never reassembled); every other DIMSE
// message (C-ECHO, anything unexpected) goes to dcmjs-dimse re-framed as one-PDV P-DATA-TF PDUs,
// so its handling stays what it was. Out-of-order fragments throw MalformedCommand.
import { CommandField, MalformedCommand, parseCommand, pDataPdu, type Command } from './dimse-command.js';

/** A command set is a few hundred bytes; more is not a command. */
const MAX_COMMAND = 64 * 1024;

export interface DatasetTarget {
  push(value: Buffer): void;
  end(): void;
}

export interface PDataHandlers {
  /** A C-STORE-RQ whose dataset follows: where the dataset's fragments go. */
  store(command: Command, pcid: number): DatasetTarget;
  /** A P-DATA-TF PDU for dcmjs-dimse. */
  forward(pdu: Buffer): void;
}

export class PDataRouter {
  private command: Buffer[] = [];
  private commandBytes = 0;
  private commandPc = -1;
  /** The dataset expected next: to a store target, or forwarded PDV by PDV. */
  private dataset?: { pcid: number; target?: DatasetTarget; parts: Buffer[] };

  constructor(private readonly h: PDataHandlers) {}

  /** One piece of a PDV, as PduReader delivers it. */
  pdv(pcid: number, control: number, value: Buffer, end: boolean): void {
    const last = (control & 2) === 2;
    if (control & 1) {
      if (this.dataset) throw new MalformedCommand('command fragment while a dataset was expected');
      if (this.commandPc !== -1 && this.commandPc !== pcid) throw new MalformedCommand('command fragments on two presentation contexts');
      this.commandPc = pcid;
      this.commandBytes += value.length;
      if (this.commandBytes > MAX_COMMAND) throw new MalformedCommand(`command set larger than ${MAX_COMMAND} bytes`);
      this.command.push(value);
      if (end && last) this.endCommand(pcid);
      return;
    }
    const d = this.dataset;
    if (!d) throw new MalformedCommand('dataset fragment without a command');
    if (d.pcid !== pcid) throw new MalformedCommand('dataset on another presentation context than its command');
    if (d.target) {
      if (value.length) d.target.push(value);
      if (end && last) {
        this.dataset = undefined;
        d.target.end();
      }
      return;
    }
    d.parts.push(value);
    if (!end) return;
    const pdu = pDataPdu(pcid, control, Buffer.concat(d.parts));
    d.parts = [];
    if (last) this.dataset = undefined;
    this.h.forward(pdu);
  }

  private endCommand(pcid: number): void {
    const bytes = Buffer.concat(this.command);
    this.command = [];
    this.commandBytes = 0;
    this.commandPc = -1;
    const cmd = parseCommand(bytes);
    if (cmd.commandField === CommandField.cStoreRq && cmd.hasDataset) {
      this.dataset = { pcid, parts: [] };
      this.dataset.target = this.h.store(cmd, pcid);
      return;
    }
    if (cmd.hasDataset) this.dataset = { pcid, parts: [] };
    this.h.forward(pDataPdu(pcid, 0x03, bytes));
  }
}
