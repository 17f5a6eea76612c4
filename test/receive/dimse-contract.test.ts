// What src/dicom/dimse-adapter.ts relies on in dcmjs-dimse beyond its public typings, checked on
// real instances of the installed version: private fields and methods with their types and
// arity, the socket listener it adds, the sockets it opens, the event names it emits, and a
// real round trip (our SCU to our SCP, both through the adapter). An upgrade that moves any of
// it fails here; package.json pins the version these were read from.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setImmediate as tick, setTimeout as sleep } from 'node:timers/promises';
import { SopClass, TransferSyntax } from '../../src/dicom/dcmjs.js';
import dimse, { type Association } from '../../src/dicom/dimse.js';
import { clientSocket, DimseEvent, networkInternals, releaseRequestDataset, takeOverScp } from '../../src/dicom/dimse-adapter.js';
import { startDicomListener, type DicomListener } from '../../src/receive/transport/scp.js';
import { FsSpool } from '../../src/receive/spool/spool-fs.js';
import { echo, storeFiles } from '../../src/send/scu.js';
import { associateRq, RELEASE_RQ } from '../hardening/raw-assoc.js';
import { datasetBytes, MR_DIR } from '../helpers/peers.js';
import { captureLog } from './log-capture.js';

const HOST = '127.0.0.1';
/** The listeners' lines stay out of the test output. */
const { log } = captureLog();
const ROOT = new URL('../../', import.meta.url);
const json = (path: string) => JSON.parse(readFileSync(new URL(path, ROOT), 'utf8'));

/**
 * The own fields of a new Scp (Network) in the pinned version. InboundAssociation (scp.ts)
 * extends Scp: its own fields must not reuse any of these names (nor `association`, set later).
 */
const NETWORK_FIELDS = [
  '_events', '_eventsCount', '_maxListeners', 'associationTimeout', 'connectTimeout', 'connected', 'connectedTime', 'datasetNameMap',
  'datasetReadOptions', 'datasetTranscodeOptions', 'datasetWriteOptions', 'dimse', 'dimseStoreStream', 'dimseStream', 'lastPduTime',
  'logCommandDatasets', 'logDatasets', 'logId', 'messageId', 'pduTimeout', 'pending', 'requests', 'socket', 'statistics', 'timeoutIntervalId',
];

/** A connected pair of loopback sockets: the accepted side (as the SCP gets it) and the client. */
async function socketPair(): Promise<{ accepted: net.Socket; client: net.Socket; close(): void }> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, HOST, r));
  const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
  const client = net.connect((server.address() as net.AddressInfo).port, HOST);
  client.on('error', () => undefined);
  const s = await accepted;
  server.close();
  return { accepted: s, client, close: () => (s.destroy(), client.destroy()) };
}

describe('dcmjs-dimse contract (what the adapter relies on)', () => {
  it('is pinned to the exact installed version, in package.json and package-lock.json', () => {
    const pinned = json('package.json').dependencies['dcmjs-dimse'];
    assert.match(pinned, /^\d+\.\d+\.\d+$/, `dcmjs-dimse must be pinned exactly, not "${pinned}"`);
    assert.equal(json('node_modules/dcmjs-dimse/package.json').version, pinned);
    assert.equal(dimse.version, pinned);
    const lock = json('package-lock.json');
    assert.equal(lock.packages[''].dependencies['dcmjs-dimse'], pinned);
    assert.equal(lock.packages['node_modules/dcmjs-dimse'].version, pinned);
  });

  it('its bundled dcmjs copy is where dimse.ts silences it (else every private tag warns on the console)', () => {
    const require = createRequire(import.meta.url);
    const nested = createRequire(require.resolve('dcmjs-dimse'))('dcmjs') as { log: { getLevel(): number; levels: { SILENT: number } } };
    assert.equal(nested.log.getLevel(), nested.log.levels.SILENT);
    assert.equal(dimse.log.getLevel(), dimse.log.levels.SILENT);
  });

  it('Scp: private fields and _processPdu as the adapter uses them; the reader swap and the association timer', async () => {
    const pair = await socketPair();
    try {
      let requested: Association | undefined;
      let released = 0;
      class Probe extends dimse.Scp {
        override associationRequested(a: Association): void {
          requested = a;
        }
        override associationReleaseRequested(): void {
          released++;
        }
      }
      const scp = new Probe(pair.accepted, { associationTimeout: 300, pduTimeout: 60_000 });
      assert.deepEqual(Object.keys(scp).sort(), [...NETWORK_FIELDS].sort(), 'Network own fields changed: check InboundAssociation for clashes');
      const n = networkInternals(scp);
      assert.equal(typeof n._processPdu, 'function');
      assert.equal(n._processPdu.length, 1);
      assert.equal(n.connected, false);
      assert.equal(n.connectedTime, undefined);
      assert.equal(n.lastPduTime, undefined);
      assert.equal(n.association, undefined);
      // Its constructor adds exactly one 'data' listener (its PDU reader); the adapter removes it.
      assert.equal(pair.accepted.listenerCount('data'), 1);
      const handle = takeOverScp(scp, pair.accepted);
      assert.equal(pair.accepted.listenerCount('data'), 0);
      assert.equal(n.connected, true);
      assert.equal(typeof n.connectedTime, 'number');

      // A whole PDU handed over is processed as if its reader had framed it.
      handle.process(associateRq('INTERSLICE', 'CONTRACT', SopClass.MRImageStorage, TransferSyntax.ExplicitVRLittleEndian));
      await tick();
      assert.ok(requested, 'associationRequested called');
      assert.equal(handle.association(), requested);
      assert.equal(handle.association()!.getCallingAeTitle(), 'CONTRACT');
      assert.equal(handle.association()!.getPresentationContexts()[0].context.getAbstractSyntaxUid(), SopClass.MRImageStorage);
      handle.process(RELEASE_RQ);
      await tick();
      assert.equal(released, 1);
      handle.pduReceived();
      assert.ok(Math.abs(Date.now() - n.lastPduTime!) < 1000);
    } finally {
      pair.close();
    }
  });

  it('Scp: connected/connectedTime drive its association timeout (networkError), and it emits close', async () => {
    const pair = await socketPair();
    const scp = new dimse.Scp(pair.accepted, { associationTimeout: 200, pduTimeout: 60_000 });
    const closed = new Promise<void>((r) => scp.on(DimseEvent.scpClose, () => r()));
    const timedOut = new Promise<Error>((r) => scp.on(DimseEvent.networkError, (e: Error) => r(e)));
    takeOverScp(scp, pair.accepted);
    const started = Date.now();
    const e = await Promise.race([timedOut, sleep(3000).then(() => undefined)]);
    assert.ok(e, 'no association timeout within 3 s');
    assert.match(e.message, /association timeout/i);
    assert.ok(Date.now() - started < 2500);
    pair.close();
    await closed;
  });

  it('Client: the socket send() opens, the request dataset field, and its closed event', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'interslice-contract-'));
    const listener = await startDicomListener({
      aeTitle: 'INTERSLICE', host: HOST, port: 0, allowedCallers: [], spool: new FsSpool(join(dir, 'spool')), log, onInstance: () => undefined,
    });
    try {
      const client = new dimse.Client();
      const request = new dimse.requests.CEchoRequest();
      let status: number | undefined;
      request.on('response', (r: InstanceType<typeof dimse.responses.CEchoResponse>) => (status = r.getStatus()));
      client.addRequest(request);
      assert.equal(clientSocket(client), undefined, 'no socket before send()');
      const closed = new Promise<void>((r) => client.on(DimseEvent.clientClosed, () => r()));
      client.send(HOST, listener.port, 'CONTRACT', 'INTERSLICE');
      const socket = clientSocket(client);
      assert.ok(socket instanceof net.Socket, 'send() opened a net.Socket the adapter finds');
      let remotePort: number | undefined;
      socket.once('connect', () => (remotePort = socket.remotePort));
      await closed;
      assert.equal(status, 0);
      assert.equal(remotePort, listener.port);

      const dataset = new dimse.Dataset({ SOPClassUID: SopClass.MRImageStorage, SOPInstanceUID: '2.25.1' }, TransferSyntax.ExplicitVRLittleEndian);
      const store = new dimse.requests.CStoreRequest(dataset);
      assert.ok(Object.hasOwn(store, 'dataset'));
      assert.equal(store.getDataset(), dataset);
      releaseRequestDataset(store);
      assert.equal(store.getDataset(), undefined, 'the field released is the one getDataset() reads');
    } finally {
      await listener.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  describe('round trip through the adapter (our SCU to our SCP)', () => {
    let dir: string;
    let listener: DicomListener;
    let picky: DicomListener;
    let spool: FsSpool;

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'interslice-contract-'));
      spool = new FsSpool(join(dir, 'spool'));
      listener = await startDicomListener({ aeTitle: 'INTERSLICE', host: HOST, port: 0, allowedCallers: [], spool, log, onInstance: () => undefined });
      picky = await startDicomListener({
        aeTitle: 'INTERSLICE', host: HOST, port: 0, allowedCallers: ['SOMEONE'], spool, log, onInstance: () => undefined,
      });
    });

    after(async () => {
      await listener?.close();
      await picky?.close();
      await rm(dir, { recursive: true, force: true });
    });

    it('stores real instances byte-identically, answers C-ECHO, and reports an A-ASSOCIATE-RJ with its fields', async () => {
      const asl = join(MR_DIR, 'siemens-asl-6mm-thick-7.5mm-spacing');
      const files = (await readdir(asl)).filter((f) => f.endsWith('.dcm')).sort().slice(0, 3).map((f) => join(asl, f));
      const dest = { host: HOST, port: listener.port, aeTitle: 'INTERSLICE', callingAeTitle: 'CONTRACT' };
      const results = await storeFiles(dest, files);
      assert.deepEqual(results.map((r) => [r.status, r.ok]), files.map(() => [0, true]));
      const stored = (await readdir(spool.root, { recursive: true })).filter((f) => f.endsWith('.dcm'));
      assert.equal(stored.length, files.length);
      for (const f of files) {
        const name = stored.find((s) => s.endsWith(`${f.split('_').at(-1)}`));
        assert.ok(name, `stored ${f}`);
        assert.ok(datasetBytes(join(spool.root, name)).equals(datasetBytes(f)), `dataset bytes of ${f}`);
      }
      assert.deepEqual(await echo(HOST, listener.port, { callingAeTitle: 'CONTRACT', calledAeTitle: 'INTERSLICE' }), { ok: true, status: 0 });
      const refused = await storeFiles({ ...dest, port: picky.port }, files.slice(0, 1), { associationMs: 5000 });
      assert.equal(refused[0].ok, false);
      assert.equal(refused[0].error, 'association rejected (result 1, source 1, reason 3)');
    });
  });
});
