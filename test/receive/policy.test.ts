import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SopClass, TransferSyntax } from '../../src/dicom/dcmjs.js';
import {
  chooseStoreStatus, ContextResult, decideAssociation, EchoStatus, negotiateContexts, noDatasetStatus, Reject, storedInstanceStatus, StoreStatus,
  type StoredInstanceCheck, type StoreFacts,
} from '../../src/receive/transport/policy.js';

const policy = { aeTitle: 'INTERSLICE', allowedCallers: [] };
const { ExplicitVRLittleEndian: EXPL, ImplicitVRLittleEndian: IMPL } = TransferSyntax;

describe('association policy', () => {
  it('accepts our called AE from any caller when allowedCallers is empty', () => {
    assert.deepEqual(decideAssociation({ calledAeTitle: 'INTERSLICE', callingAeTitle: 'ANY' }, policy), { accept: true });
    assert.deepEqual(decideAssociation({ calledAeTitle: 'INTERSLICE ', callingAeTitle: 'ANY' }, policy), { accept: true });
  });

  it('rejects another called AE with CalledAeNotRecognized (permanent, service user)', () => {
    const d = decideAssociation({ calledAeTitle: 'interslice', callingAeTitle: 'ANY' }, policy);
    assert.equal(d.accept, false);
    if (d.accept) return;
    assert.equal(d.result, Reject.result.permanent);
    assert.equal(d.source, Reject.source.serviceUser);
    assert.equal(d.reason, Reject.userReason.calledAeNotRecognized);
    assert.equal(d.reason, 7);
  });

  it('checks the calling AE against allowedCallers (CallingAeNotRecognized)', () => {
    const p = { aeTitle: 'INTERSLICE', allowedCallers: ['MODALITY', { aeTitle: 'PACS', hosts: ['10.0.0.5'] }] };
    assert.equal(decideAssociation({ calledAeTitle: 'INTERSLICE', callingAeTitle: 'MODALITY' }, p).accept, true);
    const d = decideAssociation({ calledAeTitle: 'INTERSLICE', callingAeTitle: 'STRANGER' }, p);
    assert.equal(d.accept, false);
    if (!d.accept) assert.equal(d.reason, Reject.userReason.callingAeNotRecognized);
    // Host-bound caller: right AE from the wrong address is refused.
    assert.equal(decideAssociation({ calledAeTitle: 'INTERSLICE', callingAeTitle: 'PACS', peerAddress: '::ffff:10.0.0.5' }, p).accept, true);
    assert.equal(decideAssociation({ calledAeTitle: 'INTERSLICE', callingAeTitle: 'PACS', peerAddress: '10.0.0.6' }, p).accept, false);
  });

  it('refuses beyond maxAssociations, transiently', () => {
    const d = decideAssociation({ calledAeTitle: 'INTERSLICE', callingAeTitle: 'A', activeAssociations: 4 }, { ...policy, maxAssociations: 4 });
    assert.equal(d.accept, false);
    if (!d.accept) {
      assert.equal(d.result, Reject.result.transient);
      assert.equal(d.source, Reject.source.serviceProviderPresentation);
      assert.equal(d.reason, Reject.presentationReason.localLimitExceeded);
    }
  });
});

describe('presentation contexts', () => {
  it('accepts MR, Enhanced MR and Verification with LE uncompressed, preferring Explicit VR', () => {
    const answers = negotiateContexts([
      { id: 1, abstractSyntax: SopClass.MRImageStorage, transferSyntaxes: [IMPL, EXPL] },
      { id: 3, abstractSyntax: SopClass.EnhancedMRImageStorage, transferSyntaxes: [IMPL] },
      { id: 5, abstractSyntax: SopClass.Verification, transferSyntaxes: [IMPL] },
    ]);
    assert.deepEqual(answers.map((a) => [a.result, a.transferSyntax]), [
      [ContextResult.accept, EXPL],
      [ContextResult.accept, IMPL],
      [ContextResult.accept, IMPL],
    ]);
  });

  it('rejects other SOP classes (abstract syntax) and other transfer syntaxes', () => {
    const answers = negotiateContexts([
      { id: 1, abstractSyntax: SopClass.SecondaryCaptureImageStorage, transferSyntaxes: [EXPL] },
      // JPEG Baseline is lossy: not accepted (lossless compressed syntaxes are).
      { id: 3, abstractSyntax: SopClass.MRImageStorage, transferSyntaxes: ['1.2.840.10008.1.2.4.50', TransferSyntax.ExplicitVRBigEndian] },
      { id: 5, abstractSyntax: SopClass.MRImageStorage, transferSyntaxes: ['1.2.840.10008.1.2.4.80'] },
    ]);
    assert.equal(answers[0].result, ContextResult.abstractSyntaxNotSupported);
    assert.equal(answers[1].result, ContextResult.transferSyntaxesNotSupported);
    assert.equal(answers[0].transferSyntax, undefined);
    assert.deepEqual([answers[2].result, answers[2].transferSyntax], [ContextResult.accept, '1.2.840.10008.1.2.4.80']);
  });
});

describe('C-STORE status', () => {
  const ok: StoreFacts = {
    commandSopClassUid: SopClass.MRImageStorage,
    commandSopInstanceUid: '1.2.3',
    contextAccepted: true,
    header: { sopClassUid: SopClass.MRImageStorage, sopInstanceUid: '1.2.3', studyInstanceUid: '1.2', seriesInstanceUid: '1.2.4' },
  };

  it('success when all is well', () => assert.deepEqual(chooseStoreStatus(ok), { status: StoreStatus.success }));

  it('0x0122 for a SOP class we do not store (or a context not accepted)', () => {
    assert.equal(chooseStoreStatus({ ...ok, commandSopClassUid: SopClass.SecondaryCaptureImageStorage }).status, 0x0122);
    assert.equal(chooseStoreStatus({ ...ok, contextAccepted: false }).status, 0x0122);
    assert.equal(chooseStoreStatus({ ...ok, commandSopClassUid: SopClass.Verification }).status, 0x0122);
  });

  it('0xA700 when the write fails', () => {
    const a = chooseStoreStatus({ ...ok, writeError: 'ENOSPC: no space left on device' });
    assert.equal(a.status, 0xa700);
    assert.ok(a.comment!.length <= 64);
  });

  it('keeps the whole reason for the log and cuts only the ErrorComment to 64 characters', () => {
    const writeError = `free disk 123456789 bytes below watermark ${Number.MAX_SAFE_INTEGER}`;
    const a = chooseStoreStatus({ ...ok, writeError });
    assert.equal(a.reason, `not stored: ${writeError}`);
    assert.ok(a.reason!.length > 64);
    assert.equal(a.comment, a.reason!.slice(0, 64));
    const parse = chooseStoreStatus({ ...ok, header: undefined, parseError: `unexpected tag fffee00d in sequence ${'x'.repeat(80)}` });
    assert.equal(parse.reason!.length, 116);
    assert.equal(parse.comment!.length, 64);
  });

  it('0xC000 for a C-STORE-RQ without a dataset', () => {
    assert.deepEqual(noDatasetStatus(), { status: 0xc000, comment: 'no dataset received', reason: 'no dataset received' });
  });

  it('C-ECHO success is 0x0000', () => assert.equal(EchoStatus.success, 0));

  it('0xA900 when the dataset does not match the command or lacks study/series', () => {
    assert.equal(chooseStoreStatus({ ...ok, header: { ...ok.header, sopClassUid: SopClass.EnhancedMRImageStorage } }).status, 0xa900);
    assert.equal(chooseStoreStatus({ ...ok, header: { ...ok.header, sopInstanceUid: '9.9' } }).status, 0xa900);
    assert.equal(chooseStoreStatus({ ...ok, header: { ...ok.header, seriesInstanceUid: undefined } }).status, 0xa900);
  });

  it('0xC000 when the dataset cannot be parsed', () => {
    assert.equal(chooseStoreStatus({ ...ok, header: undefined, parseError: 'invalid VR at offset 8' }).status, 0xc000);
  });
});

describe('C-STORE status after the instance is stored', () => {
  // A 64 x 64 16-bit single-frame MR image filed under the UIDs its header holds.
  const ok: StoredInstanceCheck = {
    meta: { sopClassUid: SopClass.MRImageStorage, rows: 64, columns: 64, samplesPerPixel: 1, numberOfFrames: 1, bitsAllocated: 16, studyInstanceUid: '1.2', seriesInstanceUid: '1.2.4' },
    walked: true,
    pixelData: 64 * 64 * 2,
    filedUnder: { studyInstanceUid: '1.2', seriesInstanceUid: '1.2.4' },
  };

  it('success when it reads back whole', () => assert.deepEqual(storedInstanceStatus(ok), { status: StoreStatus.success }));

  it('0xC000 when the walk or the header read failed, with the whole reason', () => {
    const long = `truncated: element (7fe0,0010) declares 8192 bytes, 100 left ${'y'.repeat(40)}`;
    const a = storedInstanceStatus({ ...ok, meta: undefined, readError: long });
    assert.equal(a.status, StoreStatus.cannotUnderstand);
    assert.equal(a.reason, `unreadable: ${long}`);
    assert.equal(a.comment, a.reason!.slice(0, 64));
    assert.equal(storedInstanceStatus({ ...ok, meta: undefined }).status, StoreStatus.cannotUnderstand);
  });

  it('0xA900 for an image without Pixel Data or with less than Rows x Columns x samples x frames', () => {
    assert.deepEqual(storedInstanceStatus({ ...ok, pixelData: undefined }), {
      status: 0xa900, comment: 'image without Pixel Data', reason: 'image without Pixel Data',
    });
    const short = storedInstanceStatus({ ...ok, pixelData: 64 * 64 * 2 - 2 });
    assert.equal(short.status, 0xa900);
    assert.equal(short.reason, 'Pixel Data 8190 bytes; Rows x Columns x frames need 8192');
    const frames = storedInstanceStatus({ ...ok, meta: { ...ok.meta!, numberOfFrames: 40 } });
    assert.equal(frames.status, 0xa900);
    // Zero rows cannot need a positive size: refused, not divided by.
    assert.equal(storedInstanceStatus({ ...ok, meta: { ...ok.meta!, rows: 0 } }).status, 0xa900);
    // More bytes than needed (odd-length padding), encapsulated data (checked when decoded),
    // a duplicate (not walked again) and a class without pixels pass.
    assert.equal(storedInstanceStatus({ ...ok, pixelData: 64 * 64 * 2 + 2 }).status, 0);
    assert.equal(storedInstanceStatus({ ...ok, pixelData: 'encapsulated' }).status, 0);
    assert.equal(storedInstanceStatus({ ...ok, walked: false, pixelData: undefined }).status, 0);
    assert.equal(storedInstanceStatus({ ...ok, meta: { ...ok.meta!, sopClassUid: SopClass.SecondaryCaptureImageStorage }, pixelData: undefined }).status, 0);
  });

  it('0xC000 when the reader decodes the study or series UID differently from where it was filed', () => {
    const a = storedInstanceStatus({ ...ok, filedUnder: { studyInstanceUid: '1.2', seriesInstanceUid: '1.2.4\u00e9' } });
    assert.equal(a.status, StoreStatus.cannotUnderstand);
    assert.match(a.reason!, /not plain ASCII/);
    assert.equal(storedInstanceStatus({ ...ok, filedUnder: {} }).status, StoreStatus.cannotUnderstand);
  });

  it('an unreadable instance is C000 even when its pixels would also be short (order of the checks)', () => {
    assert.equal(storedInstanceStatus({ ...ok, readError: 'x', pixelData: 1 }).status, StoreStatus.cannotUnderstand);
  });
});
