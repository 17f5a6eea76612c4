// The DICOM listener: C-ECHO and C-STORE SCP on dcmjs-dimse, bound to the configured host
// (dcmjs-dimse's Server.listen takes no host, so we own the net.Server and hand each socket
// to a new Scp). Policy lives in policy.ts; bytes go to the spool through StoreSink.
//
// C-STORE data takes a fast path: our PduReader reads the socket instead of dcmjs-dimse,
// PDataRouter hands each C-STORE dataset to a StoreSink fragment by fragment, the header is
// checked from memory while the spool writes (ReceivedCheck) and the response is encoded
// directly. dcmjs-dimse still negotiates, answers C-ECHO and handles release and abort: every
// other PDU and DIMSE message is passed to it as before.
//
// Nothing a peer sends may take the process down: dcmjs-dimse dispatches events through
// async-event-emitter2, where a throwing one-argument listener becomes an unhandled promise
// rejection, so every override below catches everything and answers with a status or an abort;
// a malformed PDU stream aborts the association. What this uses of dcmjs-dimse's internals
// goes through src/dicom/dimse-adapter.ts; every status comes from policy.ts.
import { refusalReason, rejectReason, stageMetrics } from '../../core/metrics.js';
import net from 'node:net';
import tls from 'node:tls';
import { bcp195Options } from '../../core/tls-profile.js';
import { countInstance, type AuditSink, type AuditStudy } from '../../core/audit.js';
import { unlink } from 'node:fs/promises';
import type { InstanceListener, Spool, SpoolStored } from '../../core/seams.js';
import type { InstanceMeta } from '../../core/types.js';
import { logger, type Logger } from '../../core/log.js';
import { tagsOfKeywords, TransferSyntax } from '../../dicom/dcmjs.js';
import dimse, { type Association, type CEchoRequest, type CStoreRequest } from '../../dicom/dimse.js';
import { DimseEvent, takeOverScp, type ScpHandle } from '../../dicom/dimse-adapter.js';
import { parseCommitmentReport, type CommitmentReport } from '../../dicom/storage-commitment.js';
import {
  chooseStoreStatus, ContextResult, decideAssociation, DEFAULT_CONTEXTS, EchoStatus, eventReportStatus, EventReportStatus, negotiateContexts, noDatasetStatus,
  storedInstanceStatus, StoreStatus,
  type AllowedCaller, type StoreAnswer, type StoredInstanceCheck, type SupportedContexts,
} from './policy.js';
import { BASIC_META_KEYWORDS, parseBasicMeta, readBasicMeta } from '../check/read-meta.js';
import { PduOversize, PduReader } from './pdu-reader.js';
import { PDataRouter, type DatasetTarget } from './pdata-router.js';
import { storeResponsePdu, type Command } from './dimse-command.js';
import { buildPart10Head } from '../spool/part10.js';
import { checkFailed, ReceivedCheck, type CheckResult } from '../check/received-check.js';
import { StoreSink } from './store-sink.js';
import { failpoint } from '../../core/failpoints.js';
import { checkStoredStructure } from '../check/structure-check.js';

export interface ListenerTimeouts {
  /** From TCP accept to the A-ASSOCIATE-RQ (default 30 s). */
  associationMs?: number;
  /** Longest silence between PDUs inside an association (default 60 s). */
  pduMs?: number;
  /** Socket idle timeout, the last resort (default 120 s). */
  idleMs?: number;
}

export interface ListenerOptions {
  aeTitle: string;
  host: string;
  /** 0 picks an ephemeral port; the bound port is returned. null: no plain port (TLS only). */
  port: number | null;
  /** DICOM TLS listener beside (or instead of) the plain one (BCP 195 profile). */
  tls?: ListenerTls;
  /** [] accepts any calling AE. */
  allowedCallers: AllowedCaller[];
  spool: Spool;
  onInstance: InstanceListener;
  /** Audit trail: instances received per study, rejected associations, failed TLS handshakes. */
  audit?: AuditSink;
  /** Reads the stored file's header (the orchestrator passes the assemble stage's reader). */
  readMeta?: (path: string) => Promise<InstanceMeta>;
  /**
   * The same from the file's first bytes in memory (Part-10 head, dataset up to Pixel Data;
   * fileSize unset). Used instead of readMeta for new instances up to RETAIN_BYTES; without
   * it, a caller's readMeta reads every file back. Default: the basic reader's parse.
   */
  parseMeta?: (part10Header: Buffer, path: string) => InstanceMeta;
  /** The top-level keywords parseMeta reads (it is then given only those); default: all. */
  parseMetaKeywords?: readonly string[];
  log?: Logger;
  /** Largest PDU we accept (default 262144). */
  maxPduLength?: number;
  timeouts?: ListenerTimeouts;
  /** Hardening slots: concurrent association limit and per-instance size limit. */
  maxAssociations?: number;
  maxInstanceBytes?: number;
  /** Accepted abstract/transfer syntaxes (default: MR, Enhanced MR, Verification, Storage Commitment). */
  contexts?: SupportedContexts;
  /**
   * A storage commitment result (N-EVENT-REPORT) a destination sent us: the outbox's hook.
   * Resolves true when a transaction waited for it; the response is sent after it resolves.
   */
  onCommitmentReport?: (report: CommitmentReport) => Promise<boolean>;
}

export interface ListenerTls {
  /** 0 picks an ephemeral port. */
  port: number;
  cert: Buffer;
  key: Buffer;
  /** CA that client certificates must chain to (with requireClientCert). */
  ca?: Buffer;
  requireClientCert: boolean;
}

export interface DicomListener {
  /** The plain port, or the TLS port when there is no plain one. */
  port: number;
  plainPort?: number;
  tlsPort?: number;
  close(): Promise<void>;
}

const DEFAULT_MAX_PDU = 262144;
const Scp = dimse.Scp;
/** Stands in for the spool path in errors from a header parsed before the file is placed. */
const PENDING_PATH = '(receiving)';

/** What a C-STORE is answered about, whichever path brought it. */
interface StoreRequestInfo {
  sopClassUid: string;
  sopInstanceUid: string;
}
/** Writes a C-STORE's response; false when the connection can no longer take it. */
type Respond = (a: StoreAnswer) => boolean;

interface AssociationCounts {
  stored: number;
  duplicates: number;
  refused: number;
  bytes: number;
}

function errMsg(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

const BASIC_META_TAGS = tagsOfKeywords(BASIC_META_KEYWORDS);

/** One accepted TCP connection: at most one association. */
class InboundAssociation extends Scp {
  readonly counts: AssociationCounts = { stored: 0, duplicates: 0, refused: 0, bytes: 0 };
  /** Instances stored in this association, per study (the audit trail's record). */
  private readonly studies = new Map<string, AuditStudy>();
  /** The peer's address, kept for the audit record written after the socket closed. */
  private readonly peerHost?: string;
  private current?: StoreSink;
  private readonly reader: PduReader;
  private readonly router: PDataRouter;
  /** dcmjs-dimse's side of the socket (named apart from its own fields: it has a `dimse`). */
  private readonly network: ScpHandle;
  private callingAe = '';
  private calledAe = '';
  private opened = 0;
  private inFlight = Promise.resolve();
  private paused = false;
  private readonly parseMetaTags?: Set<number>;

  constructor(
    private readonly sock: net.Socket,
    private readonly o: ListenerOptions,
    private readonly log: Logger,
    private readonly activeCount: () => number,
    private readonly onClosed: (a: InboundAssociation) => void,
    private readonly secure = false,
  ) {
    super(sock, {
      associationTimeout: o.timeouts?.associationMs ?? 30_000,
      pduTimeout: o.timeouts?.pduMs ?? 60_000,
      connectTimeout: o.timeouts?.idleMs ?? 120_000,
    });
    this.peerHost = sock.remoteAddress;
    this.parseMetaTags = o.parseMetaKeywords ? tagsOfKeywords(o.parseMetaKeywords) : undefined;
    // Our reader replaces dcmjs-dimse's; every PDU but C-STORE data is handed to it whole.
    const dimseHandle = takeOverScp(this, sock);
    this.network = dimseHandle;
    this.router = new PDataRouter({ store: (cmd, pcid) => this.beginStore(cmd, pcid), forward: dimseHandle.process });
    this.reader = new PduReader(o.maxPduLength ?? DEFAULT_MAX_PDU, {
      control: (_type, pdu) => dimseHandle.process(pdu),
      pdv: (pcid, control, value, end) => this.router.pdv(pcid, control, value, end),
      pduDone: dimseHandle.pduReceived,
    });
    sock.on('data', (chunk: Buffer) => this.read(chunk));
    this.on(DimseEvent.networkError, (e: Error) => this.guard('network-error', () => {
      this.log.warn('association network error', { event: 'association-error', ...this.who(), error: errMsg(e) });
      this.current?.abort('network error');
      this.sock.destroy();
    }));
    this.on(DimseEvent.scpClose, () => this.guard('close', () => {
      this.current?.abort('connection closed');
      if (this.opened) {
        this.log.info('association closed', { event: 'association-close', ...this.who(), ...this.counts, durationMs: Date.now() - this.opened });
        for (const study of this.studies.values()) this.o.audit?.record({ kind: 'received', from: { aeTitle: this.callingAe, host: this.peerHost }, study, outcome: 0 });
      }
      this.onClosed(this);
    }));
  }

  private who() {
    return { callingAeTitle: this.callingAe, calledAeTitle: this.calledAe, peer: `${this.sock.remoteAddress}:${this.sock.remotePort}`, tls: this.secure };
  }

  /** Feeds the reader; a PDU stream we cannot read ends the association (logged). */
  private read(chunk: Buffer): void {
    try {
      this.reader.push(chunk);
    } catch (e) {
      this.reader.stop();
      this.current?.abort('malformed PDU stream');
      if (e instanceof PduOversize) {
        this.log.warn('connection cut: oversize PDU', { event: 'association-abort-pdu', peer: this.who().peer, reason: e.message });
        this.sock.destroy();
        return;
      }
      // Dropped like dcmjs-dimse did on an unreadable stream (no A-ABORT: the peer may not read).
      this.log.warn('association aborted: malformed PDU stream', { event: 'association-abort-malformed', ...this.who(), reason: errMsg(e) });
      this.sock.destroy();
    }
  }

  /** Runs a handler; anything it throws is logged and ends the connection instead of the process. */
  private guard(what: string, fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.log.error('association handler failed', { event: 'association-internal-error', handler: what, ...this.who(), error: errMsg(e) });
      this.sock.destroy();
    }
  }

  override associationRequested(association: Association): void {
    this.guard('associate', () => {
      this.callingAe = association.getCallingAeTitle();
      this.calledAe = association.getCalledAeTitle();
      const decision = decideAssociation(
        { calledAeTitle: this.calledAe, callingAeTitle: this.callingAe, peerAddress: this.sock.remoteAddress, activeAssociations: this.activeCount() - 1 },
        { aeTitle: this.o.aeTitle, allowedCallers: this.o.allowedCallers, maxAssociations: this.o.maxAssociations },
      );
      if (!decision.accept) {
        this.log.warn('association rejected', { event: 'association-rejected', ...this.who(), reason: decision.why });
        stageMetrics().associationRejected(rejectReason(decision.source, decision.reason));
        this.o.audit?.record({
          kind: 'security', alert: 'node-authentication', outcome: 4, peer: { aeTitle: this.callingAe, host: this.sock.remoteAddress },
          subject: `${this.o.aeTitle}@${this.sock.localAddress}:${this.sock.localPort}`, description: `association rejected: ${decision.why}`,
        });
        this.sendAssociationReject(decision.result, decision.source, decision.reason);
        this.sock.end();
        return;
      }
      let accepted = 0;
      const contexts = association.getPresentationContexts().map((c) => ({
        id: c.id,
        abstractSyntax: c.context.getAbstractSyntaxUid(),
        transferSyntaxes: c.context.getTransferSyntaxUids(),
      }));
      for (const a of negotiateContexts(contexts, this.o.contexts ?? DEFAULT_CONTEXTS)) {
        const pc = association.getPresentationContext(a.id);
        pc.setResult(a.result, a.transferSyntax);
        if (a.result === ContextResult.accept) accepted++;
        else this.log.debug('presentation context rejected', { event: 'context-rejected', ...this.who(), abstractSyntax: a.abstractSyntax, result: a.result });
      }
      const ours = this.o.maxPduLength ?? DEFAULT_MAX_PDU;
      const theirs = association.getMaxPduLength();
      association.setMaxPduLength(theirs > 0 ? Math.min(theirs, ours) : ours);
      this.opened = Date.now();
      this.log.info('association opened', { event: 'association-open', ...this.who(), contextsAccepted: accepted, contextsRejected: contexts.length - accepted });
      stageMetrics().associationAccepted();
      this.sendAssociationAccept();
    });
  }

  /**
   * A-RELEASE-RQ: every C-STORE already received (still being written, checked or fsynced) is
   * answered first, then A-RELEASE-RP. A sender that releases right behind its last dataset
   * still gets that instance's response, and a success it never saw cannot be lost.
   */
  override associationReleaseRequested(): void {
    this.guard('release', () => {
      void this.inFlight.then(() =>
        this.guard('release', () => {
          if (!this.sock.writable) return;
          this.sendAssociationReleaseResponse();
          this.sock.end();
        }),
      );
    });
  }

  override abort(source: number, reason: number): void {
    this.guard('abort', () => {
      this.log.warn('association aborted by peer', { event: 'association-abort', ...this.who(), source, reason });
      this.current?.abort('association aborted');
      this.sock.destroy();
    });
  }

  override cEchoRequest(request: CEchoRequest, callback: (r: InstanceType<typeof dimse.responses.CEchoResponse>) => void): void {
    this.guard('c-echo', () => {
      const response = dimse.responses.CEchoResponse.fromRequest(request);
      response.setStatus(EchoStatus.success);
      callback(response);
    });
  }

  /**
   * N-EVENT-REPORT-RQ: a destination's storage commitment result on an association it opened
   * (policy.ts chooses the status). The result is handed to the outbox and recorded before the
   * response, so a report we answered is never lost.
   */
  override nEventReportRequest(
    request: InstanceType<typeof dimse.requests.NEventReportRequest>,
    callback: (r: InstanceType<typeof dimse.responses.NEventReportResponse>) => void,
  ): void {
    this.guard('n-event-report', () => {
      let report: CommitmentReport | undefined;
      let parseError: string | undefined;
      try {
        report = parseCommitmentReport(request.getEventTypeId(), request.getDataset()?.getElements());
      } catch (e) {
        parseError = errMsg(e);
      }
      const answer = eventReportStatus({
        affectedSopClassUid: String(request.getAffectedSopClassUid() ?? ''), affectedSopInstanceUid: String(request.getAffectedSopInstanceUid() ?? ''),
        eventTypeId: request.getEventTypeId(), parseError,
      });
      const respond = (known?: boolean) => this.guard('n-event-report', () => {
        this.log.info('storage commitment report', {
          event: 'commit-report', ...this.who(), status: `0x${answer.status.toString(16).padStart(4, '0')}`, reason: answer.reason,
          transactionUid: report?.transactionUid, eventTypeId: request.getEventTypeId(), committed: report?.committed.length, failed: report?.failed.length, known,
        });
        if (!this.sock.writable) return;
        const response = dimse.responses.NEventReportResponse.fromRequest(request);
        response.setStatus(answer.status);
        if (answer.comment) response.setErrorComment(answer.comment);
        callback(response);
      });
      const handler = this.o.onCommitmentReport;
      if (answer.status !== EventReportStatus.success || !report || !handler) {
        respond();
        return;
      }
      this.inFlight = this.inFlight.then(() => handler(report)).then(respond, (e) => {
        this.log.error('storage commitment report not recorded', { event: 'commit-report-error', ...this.who(), error: errMsg(e) });
        this.sock.destroy();
      });
    });
  }

  /** A C-STORE-RQ with a dataset arrived on the fast path: where its fragments go. */
  private beginStore(cmd: Command, pcid: number): DatasetTarget {
    const association = this.network.association();
    if (!association) throw new Error('P-DATA before the association was negotiated');
    const pc = association.getPresentationContext(pcid); // throws on an unknown context id
    const info = { sopClassUid: cmd.affectedSopClassUid ?? '', sopInstanceUid: cmd.affectedSopInstanceUid ?? '' };
    const ts = pc.getAcceptedTransferSyntaxUid() ?? '';
    const explicitVr = ts !== TransferSyntax.ImplicitVRLittleEndian;
    const sink = new StoreSink({
      commandSopClassUid: info.sopClassUid,
      commandSopInstanceUid: info.sopInstanceUid,
      transferSyntaxUid: ts,
      explicitVr,
      contextAccepted: pc.getResult() === ContextResult.accept && pc.getAbstractSyntaxUid() === info.sopClassUid,
      callingAeTitle: this.callingAe,
      spool: this.o.spool,
      supported: this.o.contexts ?? DEFAULT_CONTEXTS,
      pause: () => this.setPaused(true),
      resume: () => this.setPaused(false),
      maxInstanceBytes: this.o.maxInstanceBytes,
    });
    this.current = sink;
    // The in-memory check needs a header parser; a caller's own file reader gets the file.
    const parse = this.o.parseMeta ?? (this.o.readMeta ? undefined : parseBasicMeta);
    const reads = this.o.parseMeta ? this.parseMetaTags : BASIC_META_TAGS;
    const check = parse
      ? new ReceivedCheck(
          explicitVr,
          buildPart10Head({ sopClassUid: info.sopClassUid, sopInstanceUid: info.sopInstanceUid, transferSyntaxUid: ts, sourceAeTitle: this.callingAe }),
          (head) => parse(head, PENDING_PATH),
          reads,
        )
      : undefined;
    const messageId = cmd.messageId ?? 0;
    const respond: Respond = (a) => {
      if (!this.sock.writable) return false;
      this.sock.write(storeResponsePdu({ pcid, messageId, ...info, status: a.status, comment: a.comment }));
      return true;
    };
    return {
      push: (value) => {
        sink.push(value);
        check?.push(value);
      },
      end: () => {
        sink.end();
        this.queueStore(info, sink, sink.streaming ? check?.finish() : undefined, respond);
      },
    };
  }

  /** A C-STORE without a dataset (dcmjs-dimse parsed it): answered "no dataset received". */
  override cStoreRequest(request: CStoreRequest, callback: (r: InstanceType<typeof dimse.responses.CStoreResponse>) => void): void {
    const info = { sopClassUid: String(request.getAffectedSopClassUid() ?? ''), sopInstanceUid: String(request.getAffectedSopInstanceUid() ?? '') };
    this.queueStore(info, undefined, undefined, (a) => {
      if (!this.sock.writable) return false;
      const response = dimse.responses.CStoreResponse.fromRequest(request);
      response.setStatus(a.status);
      if (a.comment) response.setErrorComment(a.comment);
      callback(response);
      return true;
    });
  }

  /**
   * Requests arrive one at a time (no asynchronous operations negotiated); the chain keeps
   * responses and onInstance calls in order even if a peer does not wait.
   */
  private queueStore(info: StoreRequestInfo, sink: StoreSink | undefined, check: Promise<CheckResult | undefined> | undefined, respond: Respond): void {
    this.inFlight = this.inFlight.then(() => this.handleStore(info, sink, check, respond)).catch((e) => {
      this.log.error('C-STORE handling failed', { event: 'store-internal-error', ...this.who(), error: errMsg(e) });
      this.sock.destroy();
    });
  }

  /** Drops the connection (listener shutdown). */
  destroy(): void {
    this.sock.destroy();
  }

  /** Resolves when the store in progress (if any) has been answered. */
  settled(): Promise<void> {
    return this.inFlight;
  }

  private async handleStore(info: StoreRequestInfo, sink: StoreSink | undefined, check: Promise<CheckResult | undefined> | undefined, respond: Respond): Promise<void> {
    const { sopInstanceUid, sopClassUid } = info;
    let answer = noDatasetStatus();
    let stored: SpoolStored | undefined;
    let meta: InstanceMeta | undefined;
    let seriesInstanceUid: string | undefined;
    let bytes = 0;
    if (sink) {
      const [outcome, early] = await Promise.all([sink.outcome, check]);
      bytes = outcome.bytes;
      seriesInstanceUid = outcome.header.seriesInstanceUid;
      answer = chooseStoreStatus(outcome.facts, this.o.contexts ?? DEFAULT_CONTEXTS);
      stored = outcome.stored;
      if (answer.status === StoreStatus.success && stored) {
        const checked = await this.check(stored, sink.explicitVr, stored.duplicate ? undefined : early, outcome.header);
        answer = storedInstanceStatus(checked);
        // Stored bytes we cannot use would never be processed: say so to the sender now.
        if (answer.status === StoreStatus.success) meta = checked.full;
        else if (!stored.duplicate) await unlink(stored.path).catch(() => undefined);
      }
    }
    if (answer.status === StoreStatus.success) failpoint('store-before-ack');
    const answered = respond(answer);
    if (this.current === sink) this.current = undefined;

    if (answer.status !== StoreStatus.success || !meta || !stored) {
      this.counts.refused++;
      stageMetrics().instanceRefused(refusalReason(answer.status));
      this.log.warn(answered ? 'instance refused' : 'instance refused; connection gone before the response', {
        event: 'instance-refused', ...this.who(), sopInstanceUid, sopClassUid, status: `0x${answer.status.toString(16).padStart(4, '0')}`,
        reason: answer.reason ?? answer.comment, answered,
      });
      return;
    }
    stageMetrics().instanceReceived({ duplicate: stored.duplicate });
    if (stored.duplicate) this.counts.duplicates++;
    else this.counts.stored++;
    this.counts.bytes += bytes;
    // Received whole and stored durably: kept and processed even when the connection went
    // before its success response could be written (the sender may send it again: a duplicate).
    this.log.info(answered ? 'instance stored' : 'instance stored and kept; connection gone before the response', {
      event: 'instance-stored', callingAeTitle: this.callingAe, sopInstanceUid, seriesInstanceUid, bytes: stored.bytes, duplicate: stored.duplicate, answered,
    });
    countInstance(this.studies, meta);
    try {
      this.o.onInstance(meta, { duplicate: stored.duplicate, callingAeTitle: this.callingAe });
    } catch (e) {
      this.log.error('onInstance listener failed', { event: 'instance-listener-error', sopInstanceUid, error: errMsg(e) });
    }
  }

  /**
   * The checks a stored instance must pass before it is acknowledged (policy.ts decides): a new
   * file is walked first (a truncated or mis-sized dataset must not be acknowledged), then its
   * header is read; from memory when the in-memory check ran, else from the file.
   */
  private async check(
    stored: SpoolStored, explicitVr: boolean, early: CheckResult | undefined, filedUnder: StoredInstanceCheck['filedUnder'],
  ): Promise<StoredInstanceCheck & { full?: InstanceMeta }> {
    // Errors name the file (or the stand-in for it); the reason is about its content.
    const readError = (e: unknown) => errMsg(e).split(`${stored.path}: `).join('').split(`${PENDING_PATH}: `).join('');
    try {
      if (!early) {
        const structure = stored.duplicate ? undefined : await checkStoredStructure(stored.path, explicitVr);
        const meta = await (this.o.readMeta ?? readBasicMeta)(stored.path);
        return { meta, full: meta, walked: structure !== undefined, pixelData: structure?.pixelData, filedUnder };
      }
      if (checkFailed(early.structure)) return { readError: readError(early.structure.error), walked: false, filedUnder };
      if (checkFailed(early.meta)) return { readError: readError(early.meta.error), walked: true, filedUnder };
      const meta: InstanceMeta = { ...early.meta, path: stored.path, fileSize: stored.bytes };
      return { meta, full: meta, walked: true, pixelData: early.structure.pixelData, filedUnder };
    } catch (e) {
      return { readError: readError(e), walked: false, filedUnder };
    }
  }

  private setPaused(p: boolean): void {
    if (p === this.paused || this.sock.destroyed) return;
    this.paused = p;
    if (p) this.sock.pause();
    else this.sock.resume();
  }
}

export async function startDicomListener(opts: ListenerOptions): Promise<DicomListener> {
  const log = opts.log ?? logger('receive');
  if (opts.port === null && !opts.tls) throw new Error('neither a plain nor a TLS DICOM port is configured');
  const active = new Set<InboundAssociation>();
  // Plain and TLS sockets get the same per-socket setup; the association limit spans both.
  const attach = (socket: net.Socket, secure: boolean) => {
    try {
      socket.setNoDelay(true);
      const a = new InboundAssociation(socket, opts, log, () => active.size, (x) => active.delete(x), secure);
      active.add(a);
    } catch (e) {
      log.error('cannot set up association', { event: 'association-internal-error', error: errMsg(e) });
      socket.destroy();
    }
  };
  const servers: { server: net.Server; port: number; tls: boolean }[] = [];
  const listen = async (server: net.Server, port: number, secure: boolean) => {
    server.on('error', (e) => log.error('listener error', { event: 'listener-error', tls: secure, error: errMsg(e) }));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: opts.host, port }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const bound = (server.address() as net.AddressInfo).port;
    servers.push({ server, port: bound, tls: secure });
    log.info('DICOM listener started', { event: 'listener-start', aeTitle: opts.aeTitle, host: opts.host, port: bound, tls: secure });
    return bound;
  };
  try {
    if (opts.port !== null) {
      const plain = net.createServer({ noDelay: true });
      plain.on('connection', (socket) => attach(socket, false));
      await listen(plain, opts.port, false);
    }
    if (opts.tls) {
      const t = opts.tls;
      const secure = tls.createServer({
        ...bcp195Options({ cert: t.cert, key: t.key, ca: t.ca }),
        requestCert: t.requireClientCert,
        rejectUnauthorized: t.requireClientCert,
        handshakeTimeout: opts.timeouts?.associationMs ?? 30_000,
      });
      secure.on('secureConnection', (socket) => attach(socket, true));
      secure.on('tlsClientError', (e, socket) => {
        log.warn('TLS handshake failed', { event: 'tls-handshake-failed', peer: `${socket.remoteAddress}:${socket.remotePort}`, error: errMsg(e) });
        opts.audit?.record({
          kind: 'security', alert: 'node-authentication', outcome: 4, peer: { host: socket.remoteAddress },
          subject: `${opts.aeTitle}@${socket.localAddress}:${socket.localPort}`, description: `TLS handshake failed: ${errMsg(e)}`,
        });
      });
      await listen(secure, t.port, true);
    }
  } catch (e) {
    for (const x of servers) x.server.close();
    throw e;
  }
  const plainPort = servers.find((x) => !x.tls)?.port;
  const tlsPort = servers.find((x) => x.tls)?.port;
  return {
    port: plainPort ?? tlsPort!,
    plainPort,
    tlsPort,
    async close() {
      const closed = Promise.all(servers.map((x) => new Promise<void>((resolve) => x.server.close(() => resolve()))));
      // Let stores that are being answered finish (bounded), then drop the connections.
      const grace = new Promise((r) => setTimeout(r, 5000).unref());
      await Promise.race([Promise.all([...active].map((a) => a.settled())), grace]);
      for (const a of active) a.destroy();
      await closed;
      log.info('DICOM listener stopped', { event: 'listener-stop', port: plainPort, tlsPort });
    },
  };
}
