// Everything Interslice uses of dcmjs-dimse beyond its public typings (index.d.ts) and README:
// private fields and methods of its Network, the sockets it owns, a request's dataset field and
// the event names its typings leave untyped. Nothing else in src/ may reach into dcmjs-dimse;
// package.json pins the version these were read from, and test/receive/dimse-contract.test.ts
// checks every one of them on real instances, so an upgrade that moves them fails there first.
import type { Socket } from 'node:net';
import dimse, { type Association, type CStoreRequest } from './dimse.js';

type Scp = InstanceType<typeof dimse.Scp>;
type Client = InstanceType<typeof dimse.Client>;

/** Event names dcmjs-dimse emits that its typings do not list (the README shows only networkError). */
export const DimseEvent = {
  /** Network (Scp and the client's connection): the socket failed, timed out or a PDU was unreadable. */
  networkError: 'networkError',
  /** Scp: its socket closed. */
  scpClose: 'close',
  /** Client: the association is over (released, aborted or failed). */
  clientClosed: 'closed',
  /** Client: the peer sent A-ASSOCIATE-RJ; the listener gets { result, source, reason }. */
  associationRejected: 'associationRejected',
  /**
   * Client: the peer sent an N-EVENT-REPORT-RQ on our association (a storage commitment result);
   * the listener gets (NEventReportRequest, callback(NEventReportResponse)).
   */
  clientEventReport: 'nEventReportRequest',
} as const;

/** Network's private state (dcmjs-dimse 0.3.3, src/Network.js), as this file uses it. */
export interface NetworkInternals {
  /** Set when an A-ASSOCIATE-RQ (SCP) or -AC (SCU) was processed. */
  association?: Association;
  /** When the last PDU arrived; its PDU timeout counts from here. */
  lastPduTime?: number;
  /** Whether the association timer runs (set on the client-side 'connect' event). */
  connected: boolean;
  /** The association timer's start. */
  connectedTime?: number;
  /** Its own socket reader (PDU framing) calls this with one whole PDU. */
  _processPdu(pdu: Buffer): Promise<void>;
}

/** What the SCP drives of an Scp whose socket our own reader owns. */
export interface ScpHandle {
  /** Hands one whole PDU to dcmjs-dimse (negotiation, C-ECHO, release, abort, anything else). */
  process(pdu: Buffer): void;
  /** A PDU arrived (dcmjs-dimse's PDU timeout counts from the last one). */
  pduReceived(): void;
  /** The association once its A-ASSOCIATE-RQ has been processed. */
  association(): Association | undefined;
}

export function networkInternals(network: Scp | object): NetworkInternals {
  return network as unknown as NetworkInternals;
}

/**
 * Takes over an Scp built on an accepted socket: removes the 'data' listener its constructor
 * added (our reader replaces it) and starts its association timer, which it otherwise starts
 * from the client-side 'connect' event an accepted socket never emits.
 */
export function takeOverScp(scp: Scp, socket: Socket): ScpHandle {
  const n = networkInternals(scp);
  n.connected = true;
  n.connectedTime = Date.now();
  socket.removeAllListeners('data');
  return {
    process: (pdu) => void n._processPdu(pdu),
    pduReceived: () => (n.lastPduTime = Date.now()),
    association: () => n.association,
  };
}

/** The socket a Client opened in send() (dcmjs-dimse sets no TCP_NODELAY on it). */
export function clientSocket(client: Client): Socket | undefined {
  return (client as unknown as { network?: { socket?: Socket } }).network?.socket;
}

/** Drops a sent request's dataset: the Client keeps every request, and with it the dataset. */
export function releaseRequestDataset(request: CStoreRequest): void {
  (request as unknown as { dataset?: unknown }).dataset = undefined;
}
