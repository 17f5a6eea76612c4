// Execution-provider selection: auto on this machine, and the fallback order with stand-ins.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { cudaUnavailableReason, openOnProvider, type Provider } from '../../src/interpolate/engine/providers.js';
import { createModelInterpolator } from '../../src/interpolate/model-interpolator.js';
import { ENGINE_DEFAULTS } from '../../src/interpolate/engine/options.js';
import { captureLogger, LOCAL_MODEL } from './helpers.js';

describe('execution provider selection', () => {
  it('auto on this machine runs on cpu and logs why cuda and webgpu did not', async () => {
    const { log, lines } = captureLogger();
    const m = await createModelInterpolator(LOCAL_MODEL, log, ENGINE_DEFAULTS);
    try {
      const loaded = lines.find((l) => l.message === 'interpolation model loaded');
      assert.ok(loaded, 'the load is logged');
      const notUsed = loaded.meta.notUsed as Record<string, string>;
      if (m.provider === 'cpu') {
        // This CPU-only machine: the npm package has no CUDA library and no GPU adapter exists.
        assert.match(notUsed.cuda, cudaUnavailableReason() ? /not installed.*VARIANT=cuda/ : /./);
        assert.ok(notUsed.webgpu && notUsed.webgpu.length > 0, 'webgpu failure reason logged');
      }
      assert.equal(loaded.meta.executionProvider, m.provider);
      assert.equal(loaded.meta.requested, 'auto');
    } finally {
      await m.release();
    }
  });

  it('walks cuda > webgpu > cpu and records each reason (stand-in sessions)', async () => {
    const tried: Provider[] = [];
    const fake = { release: async () => undefined } as never;
    const create = (async (_m: Uint8Array, o: { executionProviders: Provider[] }) => {
      const p = o.executionProviders[0];
      tried.push(p);
      if (p === 'cuda') throw new Error('libcudart.so.12: cannot open shared object file');
      if (p === 'webgpu') throw new Error('/onnxruntime_src/x.cc:1 lambda was false. Failed to get a WebGPU adapter: No supported adapters\nmore');
      return fake;
    }) as never;
    const r = await openOnProvider(new Uint8Array(), 'auto', { threads: 0 }, async () => undefined, { cudaReason: () => undefined, create });
    assert.deepEqual(tried, ['cuda', 'webgpu', 'cpu']);
    assert.equal(r.provider, 'cpu');
    assert.deepEqual(r.attempts.map((a) => [a.provider, a.ok]), [['cuda', false], ['webgpu', false], ['cpu', true]]);
    assert.match(r.attempts[0].reason, /libcudart/);
    assert.equal(r.attempts[1].reason, 'Failed to get a WebGPU adapter: No supported adapters');
  });

  it('skips cuda without trying when its provider library is missing; a provider whose probe fails is passed over', async () => {
    const tried: Provider[] = [];
    const create = (async (_m: Uint8Array, o: { executionProviders: Provider[] }) => {
      tried.push(o.executionProviders[0]);
      return { release: async () => undefined, provider: o.executionProviders[0] };
    }) as never;
    const probe = async (s: { provider?: Provider }) => {
      if (s.provider === 'webgpu') throw new Error('GridSample not implemented');
    };
    const r = await openOnProvider(new Uint8Array(), 'auto', { threads: 0 }, probe as never, { cudaReason: () => 'not installed', create });
    assert.deepEqual(tried, ['webgpu', 'cpu']);
    assert.equal(r.provider, 'cpu');
    assert.equal(r.attempts[0].reason, 'not installed');
    assert.match(r.attempts[1].reason, /GridSample/);
  });

  it('an explicitly configured provider that cannot run is an error naming it', async () => {
    const bytes = readFileSync(LOCAL_MODEL);
    await assert.rejects(
      openOnProvider(bytes, 'cuda', { threads: 0 }, async () => undefined, { cudaReason: () => 'library missing' }),
      /no execution provider could run the model \(cuda: library missing\)/,
    );
  });
});
