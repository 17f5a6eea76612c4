// Access control and limits, configured through YAML and enforced by a real `interslice serve`:
// called AE, calling AE allow-list (plain and host-bound), concurrent association limit,
// association/PDU timeouts, maximum instance size and the free-disk watermark (A700).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import type net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { Reject } from '../../src/receive/transport/policy.js';
import { echoscu, MR_DIR, storescu } from '../helpers/peers.js';
import { closedWithin, requestAssociation } from './raw-assoc.js';
import { serve, type Served } from '../helpers/serve.js';

const ASL = join(MR_DIR, 'siemens-asl-6mm-thick-7.5mm-spacing');
const ONE = join(ASL, readdirSync(ASL).sort()[0]);

/** Adds 127.0.0.2 to lo (possible inside the test network namespace); false when not allowed. */
function secondLoopback(): boolean {
  try {
    execFileSync('ip', ['addr', 'add', '127.0.0.2/8', 'dev', 'lo'], { stdio: 'ignore' });
    return true;
  } catch {
    try {
      return execFileSync('ip', ['addr', 'show', 'lo'], { encoding: 'utf8' }).includes('127.0.0.2/');
    } catch {
      return false;
    }
  }
}

describe('configuration keys of the receive hardening', () => {
  it('parses allowedCallers in both forms, limits and timeouts, with environment overrides', () => {
    const { config } = loadConfig(undefined, {
      INTERSLICE__DICOM__ALLOWEDCALLERS: '[MODALITY, {aeTitle: CT1, hosts: [10.0.0.5]}]',
      INTERSLICE__DICOM__MAXASSOCIATIONS: '4',
      INTERSLICE__DICOM__TIMEOUTS__PDUSECONDS: '5',
      INTERSLICE__STORAGE__MINFREEMB: '10',
    });
    assert.deepEqual(config.dicom.allowedCallers, ['MODALITY', { aeTitle: 'CT1', hosts: ['10.0.0.5'] }]);
    assert.equal(config.dicom.maxAssociations, 4);
    assert.deepEqual(config.dicom.timeouts, { associationSeconds: 30, pduSeconds: 5, idleSeconds: 120 });
    assert.equal(config.storage.minFreeMb, 10);
    assert.equal(config.dicom.maxInstanceMb, 2048);
    assert.throws(() => loadConfig(undefined, { INTERSLICE__DICOM__ALLOWEDCALLERS: '[{aeTitle: X, hostz: [1]}]' }), /dicom\.allowedCallers/);
  });
});

describe('access control and limits over the network', () => {
  const work = mkdtempSync(join(tmpdir(), 'interslice-access-'));
  const twoAddresses = secondLoopback();
  let node: Served;
  const held: net.Socket[] = [];

  before(async () => {
    node = await serve({
      work,
      config: [
        'dicom:',
        '  aeTitle: INTERSLICE',
        '  host: 0.0.0.0',
        '  port: 0',
        '  allowedCallers: [STORESCU, ECHOSCU, HOLDER, { aeTitle: BOUND, hosts: [127.0.0.2] }]',
        '  maxAssociations: 2',
        '  timeouts: { associationSeconds: 1, pduSeconds: 1, idleSeconds: 5 }',
        '  maxInstanceMb: 0.05',
        `storage: { dir: ${JSON.stringify(join(work, 'var'))}, minFreeMb: 0 }`,
        'admin: { enabled: false }',
      ],
    });
  });

  after(async () => {
    for (const s of held) s.destroy();
    await node?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('rejects a wrong called AE title (permanent, service user, called AE not recognised)', async () => {
    const r = await echoscu('127.0.0.1', node.port, { calledAe: 'NOTUS', args: ['-v'] });
    assert.notEqual(r.code, 0);
    assert.match(r.stdout + r.stderr, /Rejected Permanent[\s\S]*Called AE Title Not Recognized/);
    const raw = await requestAssociation('127.0.0.1', node.port, 'NOTUS', 'ECHOSCU');
    assert.deepEqual(raw, { kind: 'reject', result: Reject.result.permanent, source: Reject.source.serviceUser, reason: Reject.userReason.calledAeNotRecognized });
    await node.waitFor((l) => l.event === 'association-rejected' && l.calledAeTitle === 'NOTUS');
  });

  it('rejects an unknown calling AE title (calling AE not recognised)', async () => {
    const r = await echoscu('127.0.0.1', node.port, { callingAe: 'STRANGER', args: ['-v'] });
    assert.notEqual(r.code, 0);
    assert.match(r.stdout + r.stderr, /Rejected Permanent[\s\S]*Calling AE Title Not Recognized/);
    const ok = await echoscu('127.0.0.1', node.port, { callingAe: 'ECHOSCU' });
    assert.equal(ok.code, 0, ok.stderr);
  });

  it('accepts a host-bound AE only from its host', { skip: twoAddresses ? false : 'cannot add 127.0.0.2 (no network namespace)' }, async () => {
    const wrongHost = await echoscu('127.0.0.1', node.port, { callingAe: 'BOUND', args: ['-v'] });
    assert.notEqual(wrongHost.code, 0);
    assert.match(wrongHost.stdout + wrongHost.stderr, /Calling AE Title Not Recognized/);
    // echoscu cannot choose its source address; a raw association bound to 127.0.0.2 can.
    const rightHost = await requestAssociation('127.0.0.1', node.port, 'INTERSLICE', 'BOUND', 10_000, '127.0.0.2');
    assert.equal(rightHost.kind, 'accept');
    (rightHost as { socket: net.Socket }).socket.destroy();
    const wrongRaw = await requestAssociation('127.0.0.1', node.port, 'INTERSLICE', 'BOUND', 10_000, '127.0.0.1');
    assert.equal(wrongRaw.kind, 'reject');
    await node.waitFor((l) => l.event === 'association-open' && l.callingAeTitle === 'BOUND' && String(l.peer).startsWith('127.0.0.2'));
  });

  it('refuses associations beyond maxAssociations (transient, local limit exceeded), then recovers', async () => {
    for (let i = 0; i < 2; i++) {
      const a = await requestAssociation('127.0.0.1', node.port, 'INTERSLICE', 'HOLDER');
      assert.equal(a.kind, 'accept');
      held.push((a as { socket: net.Socket }).socket);
    }
    const third = await requestAssociation('127.0.0.1', node.port, 'INTERSLICE', 'HOLDER');
    assert.deepEqual(third, {
      kind: 'reject', result: Reject.result.transient, source: Reject.source.serviceProviderPresentation, reason: Reject.presentationReason.localLimitExceeded,
    });
    // The held associations say nothing: the PDU timeout (1 s) closes them, freeing the slots.
    for (const s of held) assert.ok((await closedWithin(s, 5000)) < 5000);
    const ok = await echoscu('127.0.0.1', node.port, { callingAe: 'ECHOSCU' });
    assert.equal(ok.code, 0, ok.stderr);
  });

  it('closes a connection that never sends an A-ASSOCIATE-RQ (association timeout)', async () => {
    const net = await import('node:net');
    const s = net.connect({ host: '127.0.0.1', port: node.port });
    await new Promise((r) => s.once('connect', r));
    const ms = await closedWithin(s, 6000);
    assert.ok(ms >= 500 && ms < 6000, `closed after ${ms} ms`);
  });

  it('refuses an instance above maxInstanceMb with Out of Resources (A700)', async () => {
    const r = await storescu('127.0.0.1', node.port, [ONE], { args: ['-v'] });
    assert.match(r.stdout + r.stderr, /Refused: OutOfResources/);
    const line = await node.waitFor((l) => l.event === 'instance-refused' && l.status === '0xa700');
    assert.match(String(line.reason), /larger than/);
  });
});

describe('free-disk watermark', () => {
  const work = mkdtempSync(join(tmpdir(), 'interslice-watermark-'));
  let node: Served;

  before(async () => {
    node = await serve({
      work,
      config: [
        'dicom: { aeTitle: INTERSLICE, host: 127.0.0.1, port: 0 }',
        // More free space than any disk has: every store is below the watermark.
        `storage: { dir: ${JSON.stringify(join(work, 'var'))}, minFreeMb: 1000000000 }`,
        'admin: { enabled: false }',
      ],
    });
  });

  after(async () => {
    await node?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('refuses new instances with A700 before the disk fills, and still answers C-ECHO', async () => {
    const r = await storescu('127.0.0.1', node.port, [ONE], { args: ['-v'] });
    assert.match(r.stdout + r.stderr, /Refused: OutOfResources/);
    const line = await node.waitFor((l) => l.event === 'instance-refused' && l.status === '0xa700');
    assert.match(String(line.reason), /watermark/);
    const spool = join(work, 'var', 'spool');
    const stored = readdirSync(spool, { recursive: true }).filter((n) => String(n).endsWith('.dcm'));
    assert.equal(stored.length, 0);
    assert.equal((await echoscu('127.0.0.1', node.port)).code, 0);
  });
});
