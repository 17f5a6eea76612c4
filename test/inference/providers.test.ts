// Execution-provider selection: auto on this machine, the fallback order with stand-ins, the GPU
// device check that keeps a CPU-only start free of Dawn's Vulkan warnings (in a real serve).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  cudaUnavailableReason,
  gpuDevices,
  openOnProvider,
  webgpuUnavailableReason,
  type Provider,
} from '../../src/interpolate/engine/providers.js';
import { createModelInterpolator } from '../../src/interpolate/model-interpolator.js';
import { ENGINE_DEFAULTS } from '../../src/interpolate/engine/options.js';
import { captureLogger, LOCAL_MODEL } from './helpers.js';
import { serve } from '../helpers/serve.js';

/** What Dawn (onnxruntime's WebGPU) writes to stderr when its Vulkan probe finds no driver. */
const DAWN_NOISE = /vkCreateInstance|VK_ERROR|vulkan|dawn/i;

function serveConfig(work: string, executionProvider: string): string[] {
  return [
    'dicom: { aeTitle: INTERSLICE, host: 127.0.0.1, port: 0 }',
    `storage: { dir: ${JSON.stringify(join(work, 'var'))} }`,
    `pipeline: { method: model, executionProvider: ${executionProvider} }`,
    'admin: { enabled: false }',
    'destinations: []',
  ];
}

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
        if (gpuDevices().length === 0) assert.match(notUsed.webgpu, /no GPU device visible.*not probed/);
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
    const r = await openOnProvider(new Uint8Array(), 'auto', { threads: 0 }, async () => undefined, {
      cudaReason: () => undefined,
      webgpuReason: () => undefined,
      create,
    });
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
    const r = await openOnProvider(new Uint8Array(), 'auto', { threads: 0 }, probe as never, {
      cudaReason: () => 'not installed',
      webgpuReason: () => undefined,
      create,
    });
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

  it('finds GPU device nodes: DRM render nodes, nvidia0..N, dxg; not card0, nvidiactl or other files', () => {
    const dev = mkdtempSync(join(tmpdir(), 'interslice-dev-'));
    try {
      assert.deepEqual(gpuDevices(dev), []);
      assert.deepEqual(gpuDevices(join(dev, 'missing')), []);
      mkdirSync(join(dev, 'dri'));
      for (const f of ['dri/card0', 'dri/renderD128', 'dri/renderD129', 'nvidiactl', 'nvidia-uvm', 'nvidia0', 'null', 'dxg']) writeFileSync(join(dev, f), '');
      assert.deepEqual(
        gpuDevices(dev),
        ['dri/renderD128', 'dri/renderD129', 'dxg', 'nvidia0'].map((f) => join(dev, f)),
      );
    } finally {
      rmSync(dev, { recursive: true, force: true });
    }
    assert.match(webgpuUnavailableReason([]) ?? '', /no GPU device visible/);
    assert.equal(webgpuUnavailableReason(['/dev/dri/renderD128']), undefined);
  });

  it('auto skips webgpu without trying when no GPU device is visible; an explicit webgpu is still tried', async () => {
    const tried: Provider[] = [];
    const create = (async (_m: Uint8Array, o: { executionProviders: Provider[] }) => {
      tried.push(o.executionProviders[0]);
      if (o.executionProviders[0] === 'webgpu') throw new Error('Failed to get a WebGPU adapter: No supported adapters');
      return { release: async () => undefined };
    }) as never;
    const deps = { cudaReason: () => 'not installed', webgpuReason: () => webgpuUnavailableReason([]), create };
    const auto = await openOnProvider(new Uint8Array(), 'auto', { threads: 0 }, async () => undefined, deps);
    assert.deepEqual(tried, ['cpu']);
    assert.equal(auto.provider, 'cpu');
    assert.match(auto.attempts[1].reason, /no GPU device visible/);
    await assert.rejects(openOnProvider(new Uint8Array(), 'webgpu', { threads: 0 }, async () => undefined, deps), /webgpu: Failed to get a WebGPU adapter/);
    assert.deepEqual(tried, ['cpu', 'webgpu']);
  });

  it('an explicit webgpu is probed for real even without a GPU device: serve stops naming the adapter failure', async (t) => {
    if (gpuDevices().length > 0) return t.skip('a GPU device is visible: the adapter may exist');
    const work = mkdtempSync(join(tmpdir(), 'interslice-providers-'));
    try {
      const started = serve({ work, config: serveConfig(work, 'webgpu') });
      // In a child process, so Dawn's warnings land in its captured stderr, not the test's.
      const err = await started.then(
        async (node) => {
          await node.stop();
          return undefined;
        },
        (e: Error) => e,
      );
      assert.ok(err, 'serve did not start');
      assert.match(err.message, /node exited/);
      assert.match(err.message, /webgpu: Failed to get a WebGPU adapter/);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });

  it('a CPU-only `interslice serve` with the model on auto prints no Vulkan or Dawn warnings', async (t) => {
    if (gpuDevices().length > 0) return t.skip(`GPU devices visible (${gpuDevices().join(', ')}): WebGPU is probed here`);
    const work = mkdtempSync(join(tmpdir(), 'interslice-providers-'));
    const node = await serve({
      work,
      config: serveConfig(work, 'auto'),
    });
    try {
      await node.stop();
      // Dawn writes plain text from native code; our own log lines are JSON (and may name Vulkan).
      const notJson = node.logs.filter((l) => l.message.startsWith('(not JSON)')).map((l) => l.message);
      assert.deepEqual(notJson.filter((l) => DAWN_NOISE.test(l)), [], 'the start printed no Vulkan/Dawn lines');
      assert.deepEqual(notJson, [], 'every line the start printed is a JSON log line');
      const loaded = node.logs.find((l) => l.message === 'interpolation model loaded');
      assert.ok(loaded, 'the model was loaded before "node started"');
      assert.equal(loaded.executionProvider, 'cpu');
      assert.match((loaded.notUsed as Record<string, string>).webgpu, /no GPU device visible/);
    } finally {
      await node.stop();
      rmSync(work, { recursive: true, force: true });
    }
  });
});
