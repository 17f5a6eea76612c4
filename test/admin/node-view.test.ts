// fromRunningNode adapts the orchestrator's RunningNode: jobs, queue depth, outbox, and the
// source files of a job found in the spool by the study/series of its id.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fromRunningNode, type AdminNode } from '../../src/admin/node-view.js';
import type { RunningNode } from '../../src/pipeline/node.js';

// Compile-time check that the real RunningNode fits (type-only: node.ts is not loaded).
export const adapt = (n: RunningNode): AdminNode =>
  fromRunningNode(n, { listenerUp: () => true, modelLoaded: () => true, destinations: [], echo: async () => {} });

describe('fromRunningNode', () => {
  it('maps the node and finds source files by study and series', async () => {
    const asked: string[][] = [];
    const node = fromRunningNode(
      {
        jobs: new Map([['1.2/3.4', { id: '1.2/3.4', seriesInstanceUid: '3.4', state: 'done' as const, instances: 2 }]]),
        queue: { depth: async () => ({ series: { queued: 1, leased: 0, dead: 0 } }) },
        spool: {
          listSeries: async (study: string, series: string) => {
            asked.push([study, series]);
            return ['/spool/a.dcm', '/spool/b.dcm'];
          },
        },
        outbox: { list: async () => [{ state: 'dead' as const, lastError: 'refused', seriesId: '9.9', destination: 'pacs' }] },
      },
      { listenerUp: () => false, modelLoaded: () => true, destinations: ['pacs'], echo: async () => {} },
    );
    const [job] = [...node.jobs()];
    assert.equal(job.id, '1.2/3.4');
    assert.deepEqual(await node.sourceFiles(job), ['/spool/a.dcm', '/spool/b.dcm']);
    assert.deepEqual(asked, [['1.2', '3.4']]);
    assert.deepEqual(await node.queueDepth(), { series: { queued: 1, leased: 0, dead: 0 } });
    assert.equal((await node.outbox())[0].state, 'dead');
    assert.equal(node.listenerUp(), false);
    assert.deepEqual(node.destinations(), ['pacs']);
  });
});
