// The pure parts of storage commitment: the N-ACTION dataset (written and read back as DICOM by
// dcmjs-dimse, as it goes on the wire), the report's dataset, matching a report to the
// instances its transaction requested, and the N-EVENT-REPORT statuses the receive policy gives.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import dimse from '../../src/dicom/dimse.js';
import { TransferSyntax } from '../../src/dicom/dcmjs.js';
import {
  commitmentRequestDataset, commitmentTransactionUid, matchCommitmentReport, parseCommitmentReport, type CommitmentReport,
} from '../../src/dicom/storage-commitment.js';
import { eventReportStatus } from '../../src/receive/transport/policy.js';

const MR = '1.2.840.10008.5.1.4.1.1.4';
const refs = [
  { sopClassUid: MR, sopInstanceUid: '1.2.3.1' },
  { sopClassUid: MR, sopInstanceUid: '1.2.3.2' },
  { sopClassUid: MR, sopInstanceUid: '1.2.3.3' },
];

/** Through DICOM bytes (Implicit VR LE, as dcmjs-dimse encodes a DIMSE dataset) and back. */
function roundTrip(elements: Record<string, unknown>): Record<string, unknown> {
  const bytes = new dimse.Dataset(elements, TransferSyntax.ImplicitVRLittleEndian).getDenaturalizedDataset();
  assert.ok(bytes.length > 0);
  return new dimse.Dataset(bytes, TransferSyntax.ImplicitVRLittleEndian).getElements();
}

describe('storage commitment data', () => {
  it('Transaction UIDs: the same for the same entry and request, another for the next, valid UIDs', () => {
    const a = commitmentTransactionUid('series--pacs', 1);
    assert.equal(commitmentTransactionUid('series--pacs', 1), a);
    assert.notEqual(commitmentTransactionUid('series--pacs', 2), a);
    assert.notEqual(commitmentTransactionUid('series--other', 1), a);
    assert.match(a, /^2\.25\.[1-9][0-9]*$/);
    assert.ok(a.length <= 64);
  });

  it('the N-ACTION dataset lists every instance under its Transaction UID, as read back from DICOM', () => {
    const back = roundTrip(commitmentRequestDataset('1.2.9.9', refs));
    assert.equal(back.TransactionUID, '1.2.9.9');
    const seq = back.ReferencedSOPSequence as Record<string, unknown>[];
    assert.deepEqual(
      seq.map((i) => [i.ReferencedSOPClassUID, i.ReferencedSOPInstanceUID]),
      [[MR, '1.2.3.1'], [MR, '1.2.3.2'], [MR, '1.2.3.3']],
    );
    assert.throws(() => commitmentRequestDataset('1.2.9.9', []), /at least one/);
  });

  it('reads a report: committed and failed items with their failure reasons; refuses one without a Transaction UID', () => {
    const r = parseCommitmentReport(2, roundTrip({
      TransactionUID: '1.2.9.9',
      ReferencedSOPSequence: [{ ReferencedSOPClassUID: MR, ReferencedSOPInstanceUID: '1.2.3.1' }],
      FailedSOPSequence: [{ ReferencedSOPClassUID: MR, ReferencedSOPInstanceUID: '1.2.3.2', FailureReason: 0x0112 }],
    }));
    assert.equal(r.transactionUid, '1.2.9.9');
    assert.equal(r.eventTypeId, 2);
    assert.deepEqual(r.committed, [refs[0]]);
    assert.deepEqual(r.failed, [{ ...refs[1], failureReason: 0x0112 }]);
    assert.throws(() => parseCommitmentReport(1, { ReferencedSOPSequence: [] }), /Transaction UID/);
    assert.throws(() => parseCommitmentReport(1, undefined), /no dataset/);
    assert.throws(() => parseCommitmentReport(1, { TransactionUID: '1.2', ReferencedSOPSequence: [{ ReferencedSOPClassUID: MR }] }), /without Referenced/);
  });

  it('matches a report to the requested instances', () => {
    const report = (committed: typeof refs, failed: CommitmentReport['failed'] = []): CommitmentReport => ({ transactionUid: '1.2.9.9', eventTypeId: failed.length ? 2 : 1, committed, failed });
    assert.deepEqual(matchCommitmentReport(refs, report(refs)), { complete: true, notCommitted: [], reasons: [] });
    // A failed instance, and one the report does not mention at all: both not committed.
    const m = matchCommitmentReport(refs, report([refs[0]], [{ ...refs[1], failureReason: 0x0110 }]));
    assert.equal(m.complete, false);
    assert.deepEqual(m.notCommitted, ['1.2.3.2', '1.2.3.3']);
    assert.deepEqual(m.reasons, ['0x0110']);
    // Committed under another SOP class is not the instance we sent.
    assert.deepEqual(matchCommitmentReport(refs, report([refs[0], refs[1], { sopClassUid: '1.2.840.10008.5.1.4.1.1.7', sopInstanceUid: '1.2.3.3' }])).notCommitted, ['1.2.3.3']);
  });

  it('answers an N-EVENT-REPORT by the policy: only the commitment instance, event 1 or 2, a readable result', () => {
    const ok = { affectedSopClassUid: '1.2.840.10008.1.20.1', affectedSopInstanceUid: '1.2.840.10008.1.20.1.1', eventTypeId: 1 };
    assert.equal(eventReportStatus(ok).status, 0x0000);
    assert.equal(eventReportStatus({ ...ok, eventTypeId: 2 }).status, 0x0000);
    assert.equal(eventReportStatus({ ...ok, affectedSopClassUid: MR }).status, 0x0118);
    assert.equal(eventReportStatus({ ...ok, affectedSopInstanceUid: '1.2.3' }).status, 0x0112);
    assert.equal(eventReportStatus({ ...ok, eventTypeId: 3 }).status, 0x0113);
    const bad = eventReportStatus({ ...ok, parseError: 'no Transaction UID' });
    assert.equal(bad.status, 0x0110);
    assert.ok(bad.comment!.length <= 64);
  });
});
