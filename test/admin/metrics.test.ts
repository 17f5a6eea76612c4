// The recorder functions the stages call end up as the right Prometheus series, the text parses,
// and queue depths are read from their source at scrape time.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMetrics, refusalReason, rejectReason } from '../../src/admin/metrics.js';
import { parseExposition, valueOf } from './prom-text.js';

describe('metrics', () => {
  it('records what the stages report, in valid exposition format', async () => {
    const m = createMetrics();
    m.associationAccepted();
    m.associationAccepted();
    m.associationRejected('calling-ae-not-allowed');
    m.instanceReceived();
    m.instanceReceived({ duplicate: true });
    m.instanceRefused('sop-class-not-supported');
    m.stackDecision('process', 'thick-slice');
    m.stackDecision('skip', 'localizer');
    m.stackDecision('skip', 'localizer');
    m.inferenceSeconds('cubic', 0.3);
    m.inferenceSeconds('cubic', 3);
    m.slicesSynthesised(71);
    m.sendAttempt('pacs', 'failure');
    m.sendRetry('pacs');
    m.sendAttempt('pacs', 'success');
    m.sendResult('pacs', 'done');
    let reads = 0;
    m.setDepthSource(() => {
      reads++;
      return [
        { queue: 'series', state: 'queued', count: 3 },
        { queue: 'outbox', state: 'dead', count: 1 },
      ];
    });
    const text = await m.text();
    const e = parseExposition(text);
    assert.equal(reads, 1, 'depths are read at scrape time');
    assert.equal(valueOf(e, 'interslice_associations_total', { result: 'accepted' }), 2);
    assert.equal(valueOf(e, 'interslice_associations_total', { result: 'rejected', reason: 'calling-ae-not-allowed' }), 1);
    assert.equal(valueOf(e, 'interslice_instances_received_total', { duplicate: 'false' }), 1);
    assert.equal(valueOf(e, 'interslice_instances_received_total', { duplicate: 'true' }), 1);
    assert.equal(valueOf(e, 'interslice_instances_refused_total', { reason: 'sop-class-not-supported' }), 1);
    assert.equal(valueOf(e, 'interslice_stacks_total', { action: 'skip', code: 'localizer' }), 2);
    assert.equal(valueOf(e, 'interslice_stacks_total', { action: 'process', code: 'thick-slice' }), 1);
    assert.equal(valueOf(e, 'interslice_inference_seconds_count', { method: 'cubic' }), 2);
    assert.equal(valueOf(e, 'interslice_inference_seconds_bucket', { method: 'cubic', le: '0.5' }), 1);
    assert.equal(valueOf(e, 'interslice_inference_seconds_bucket', { method: 'cubic', le: '+Inf' }), 2);
    assert.equal(valueOf(e, 'interslice_slices_synthesised_total'), 71);
    assert.equal(valueOf(e, 'interslice_send_attempts_total', { destination: 'pacs', result: 'failure' }), 1);
    assert.equal(valueOf(e, 'interslice_send_retries_total', { destination: 'pacs' }), 1);
    assert.equal(valueOf(e, 'interslice_send_results_total', { destination: 'pacs', result: 'done' }), 1);
    assert.equal(valueOf(e, 'interslice_queue_depth', { queue: 'series', state: 'queued' }), 3);
    assert.equal(valueOf(e, 'interslice_queue_depth', { queue: 'outbox', state: 'dead' }), 1);
    assert.equal(e.types.get('interslice_inference_seconds'), 'histogram');
    assert.equal(e.types.get('interslice_queue_depth'), 'gauge');
    assert.ok(e.types.has('process_cpu_user_seconds_total'), 'default process metrics are there');
    assert.match(m.contentType, /^text\/plain; version=0\.0\.4/);
  });

  it('keeps serving when the depth source fails', async () => {
    const m = createMetrics({ defaultMetrics: false });
    m.setDepthSource(() => {
      throw new Error('queue unavailable');
    });
    const e = parseExposition(await m.text());
    assert.equal(valueOf(e, 'interslice_queue_depth', { queue: 'series' }), undefined);
  });

  it('turns DICOM statuses and reject reasons into bounded labels', () => {
    assert.equal(refusalReason(0x0122), 'sop-class-not-supported');
    assert.equal(refusalReason(0xa700), 'out-of-resources');
    assert.equal(refusalReason(0xc000), 'cannot-understand');
    assert.equal(refusalReason(0xa7ff), 'status-0xa7ff');
    assert.equal(rejectReason(1, 7), 'called-ae-not-recognized');
    assert.equal(rejectReason(1, 3), 'calling-ae-not-recognized');
    assert.equal(rejectReason(3, 2), 'local-limit-exceeded');
    assert.equal(rejectReason(2, 1), 'source-2-reason-1');
  });
});
