// C-STORE and C-ECHO SCU on dcmjs-dimse. One association per batch, TCP_NODELAY on the socket,
// a result per file (never a throw for a network or peer failure: the outbox decides retries).
import type { Socket } from 'node:net';
import { TransferSyntax } from '../dicom/dcmjs.js';
import dimse from '../dicom/dimse.js';
import { clientSocket, DimseEvent, releaseRequestDataset } from '../dicom/dimse-adapter.js';
import { FileDataset } from './file-dataset.js';
import { failpoint } from '../core/failpoints.js';
import { BCP195_CIPHERS, TLS_MIN_VERSION, type TlsMaterial } from '../core/tls-profile.js';

export interface StoreDestination {
  aeTitle: string;
  host: string;
  port: number;
  /** Our AE title on this association. */
  callingAeTitle: string;
  /** DICOM TLS (BCP 195): the peer's certificate must chain to ca; cert/key when it wants ours. */
  tls?: TlsMaterial;
}

export interface StoreResult {
  file: string;
  /** C-STORE response status; undefined when no response came (network, negotiation). */
  status?: number;
  ok: boolean;
  error?: string;
}

export interface ScuTimeouts {
  /** TCP connect to A-ASSOCIATE-AC (default 15 s). */
  associationMs?: number;
  /** Longest wait for the next PDU (default 60 s). */
  pduMs?: number;
  /** How long the association stays open after the last response before release (default 0). */
  lingerMs?: number;
}

/** Success and the B0xx warnings (coercion, elements discarded) mean the peer stored it. */
export function deliveredStatus(status: number | undefined): boolean {
  return status === 0 || (status !== undefined && (status & 0xf000) === 0xb000);
}

/** What every file we send is written in, and the uncompressed syntaxes we propose for it. */
export const PROPOSED_TRANSFER_SYNTAXES: readonly string[] = [TransferSyntax.ExplicitVRLittleEndian, TransferSyntax.ImplicitVRLittleEndian];

type Client = InstanceType<typeof dimse.Client>;

/** dcmjs-dimse opens the socket inside send() and never sets TCP_NODELAY: reach in and set it. */
function noDelay(client: Client): Socket | undefined {
  const socket = clientSocket(client);
  socket?.setNoDelay(true);
  return socket;
}

/**
 * Runs a prepared client to the end of its association. Resolves with the first failure
 * (rejection, network error) or undefined; a stuck peer is cut after the PDU timeout.
 */
export function runAssociation(client: Client, dest: StoreDestination, t: ScuTimeouts): Promise<string | undefined> {
  return new Promise((resolve) => {
    let failure: string | undefined;
    let socket: Socket | undefined;
    client.on(DimseEvent.associationRejected, (r: { result: number; source: number; reason: number }) => {
      failure ??= `association rejected (result ${r.result}, source ${r.source}, reason ${r.reason})`;
    });
    client.on(DimseEvent.networkError, (e: Error) => {
      failure ??= e.message;
      // dcmjs-dimse only half-closes; make sure the socket goes.
      setTimeout(() => socket?.destroy(), 2000).unref();
    });
    client.on(DimseEvent.clientClosed, () => resolve(failure));
    try {
      client.send(dest.host, dest.port, dest.callingAeTitle, dest.aeTitle, {
        connectTimeout: (t.associationMs ?? 15_000) + (t.pduMs ?? 60_000),
        associationTimeout: t.associationMs ?? 15_000,
        pduTimeout: t.pduMs ?? 60_000,
        ...(t.lingerMs ? { associationLingerTimeout: t.lingerMs } : {}),
        ...(dest.tls
          ? { securityOptions: { key: dest.tls.key, cert: dest.tls.cert, ca: dest.tls.ca, minVersion: TLS_MIN_VERSION, ciphers: BCP195_CIPHERS, rejectUnauthorized: true } }
          : {}),
      });
      socket = noDelay(client);
    } catch (e) {
      resolve(e instanceof Error ? e.message : String(e));
    }
  });
}

export async function storeFiles(dest: StoreDestination, files: string[], t: ScuTimeouts = {}): Promise<StoreResult[]> {
  const results: StoreResult[] = files.map((file) => ({ file, ok: false }));
  const client = new dimse.Client();
  let requests = 0;
  const exact = new Set<string>();
  files.forEach((file, i) => {
    try {
      // Reads the file meta now (for negotiation), the dataset bytes when it is sent.
      const dataset = new FileDataset(file);
      const request = new dimse.requests.CStoreRequest(dataset);
      const sopClass = String(dataset.getElement('SOPClassUID'));
      const ts = dataset.getTransferSyntaxUid();
      // dcmjs-dimse proposes Implicit+Explicit VR LE (plus a context for any other syntax of
      // the file); a context with the file's own syntax alone lets the bytes go out unchanged
      // even when the peer would pick the other uncompressed syntax.
      if (PROPOSED_TRANSFER_SYNTAXES.includes(ts) && !exact.has(`${sopClass} ${ts}`)) {
        exact.add(`${sopClass} ${ts}`);
        client.addAdditionalPresentationContext(new dimse.association.PresentationContext(0, sopClass, ts), true);
      }
      request.on('response', (response: InstanceType<typeof dimse.responses.CStoreResponse>) => {
        const status = response.getStatus();
        results[i] = { file, status, ok: deliveredStatus(status) };
        if (!results[i].ok) results[i].error = `status 0x${status.toString(16).padStart(4, '0')} ${response.getErrorComment() ?? ''}`.trim();
        failpoint('mid-send');
        // The client keeps every request; drop the dataset so a long batch does not pile up.
        releaseRequestDataset(request);
      });
      client.addRequest(request);
      requests++;
    } catch (e) {
      results[i].error = `cannot read: ${e instanceof Error ? e.message : String(e)}`;
    }
  });
  if (requests === 0) return results;
  const failure = await runAssociation(client, dest, t);
  for (const r of results) {
    if (!r.ok && r.status === undefined) r.error ??= failure ?? 'not sent (no accepted presentation context)';
  }
  return results;
}

export interface EchoResult {
  ok: boolean;
  status?: number;
  error?: string;
}

export async function echo(
  host: string,
  port: number,
  o: { callingAeTitle: string; calledAeTitle: string } & ScuTimeouts,
): Promise<EchoResult> {
  const client = new dimse.Client();
  const request = new dimse.requests.CEchoRequest();
  let status: number | undefined;
  request.on('response', (r: InstanceType<typeof dimse.responses.CEchoResponse>) => (status = r.getStatus()));
  client.addRequest(request);
  const failure = await runAssociation(client, { host, port, aeTitle: o.calledAeTitle, callingAeTitle: o.callingAeTitle }, o);
  if (status === 0) return { ok: true, status };
  return { ok: false, status, error: failure ?? (status === undefined ? 'no response' : `status 0x${status.toString(16)}`) };
}
