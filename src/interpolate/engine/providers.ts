// Execution-provider selection for onnxruntime-node. `auto` tries CUDA, then WebGPU, then CPU
// and records why each one that was skipped or failed could not run, so the log says which
// provider runs the model and why the faster ones did not. `auto` probes WebGPU only where a GPU
// device node is visible: on a CPU-only machine Dawn's Vulkan probe finds no driver and writes
// its warnings straight to stderr (native code, outside our logger) on every start.
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import type * as OrtTypes from 'onnxruntime-node';

const require = createRequire(import.meta.url);
export const ort = require('onnxruntime-node') as typeof OrtTypes;

export type ProviderChoice = 'auto' | 'cuda' | 'webgpu' | 'cpu';
export type Provider = Exclude<ProviderChoice, 'auto'>;
export const AUTO_ORDER: Provider[] = ['cuda', 'webgpu', 'cpu'];

export interface ProviderAttempt {
  provider: Provider;
  ok: boolean;
  /** Why it runs, or why it could not. */
  reason: string;
}

export interface SessionSettings {
  /** Intra-op threads; 0 = onnxruntime's default (one per physical core). */
  threads: number;
}

/** Folder holding onnxruntime-node's native libraries for this platform. */
export function nativeLibraryDir(): string {
  const main = require.resolve('onnxruntime-node'); // .../onnxruntime-node/dist/index.js
  return join(dirname(main), '..', 'bin', 'napi-v6', process.platform, process.arch);
}

/** A reason CUDA cannot be tried at all, or undefined when its provider library is present. */
export function cudaUnavailableReason(dir = nativeLibraryDir()): string | undefined {
  const lib = process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so';
  if (existsSync(join(dir, lib))) return undefined;
  return (
    `CUDA provider library ${lib} is not installed in ${relative(process.cwd(), dir) || dir}: the onnxruntime-node npm package bundles only the CPU ` +
    `and WebGPU providers (its CUDA download is skipped offline); build the Docker image with --build-arg VARIANT=cuda`
  );
}

/**
 * GPU device nodes through which Dawn (onnxruntime's WebGPU) can reach a GPU on Linux: DRM render
 * nodes (Mesa's Vulkan drivers: AMD, Intel, ...), NVIDIA's proprietary driver and WSL2's /dev/dxg.
 * `dev` is the device folder (a test passes a folder of its own).
 */
export function gpuDevices(dev = '/dev'): string[] {
  const list = (dir: string) => {
    try {
      return readdirSync(dir);
    } catch {
      return [];
    }
  };
  return [
    ...list(join(dev, 'dri')).filter((n) => /^renderD\d+$/.test(n)).map((n) => join(dev, 'dri', n)),
    ...list(dev).filter((n) => /^nvidia\d+$/.test(n) || n === 'dxg').map((n) => join(dev, n)),
  ].sort();
}

/**
 * A reason `auto` should not probe WebGPU, or undefined when it may. Only Linux is checked (Dawn
 * uses Metal or D3D12 elsewhere). An explicit `executionProvider: webgpu` is always tried.
 */
export function webgpuUnavailableReason(devices = process.platform === 'linux' ? gpuDevices() : undefined): string | undefined {
  if (!devices || devices.length > 0) return undefined;
  return (
    'no GPU device visible (/dev/dri/renderD*, /dev/nvidia*, /dev/dxg), so WebGPU was not probed; ' +
    'set pipeline.executionProvider: webgpu to try it anyway (e.g. a software Vulkan driver)'
  );
}

export function sessionOptions(provider: Provider, s: SessionSettings): OrtTypes.InferenceSession.SessionOptions {
  return {
    executionProviders: [provider],
    graphOptimizationLevel: 'all',
    // The arena keeps the largest batch's buffers for the life of the session; without it the
    // resident set falls back after each run (peak RSS bar), at a small cost in speed.
    enableCpuMemArena: false,
    executionMode: 'sequential',
    intraOpNumThreads: s.threads,
    logSeverityLevel: 3,
  };
}

/** First line of an onnxruntime error, without its source-file prefix. */
export function shortError(e: unknown): string {
  const msg = (e as Error)?.message ?? String(e);
  const first = msg.split('\n').find((l) => l.trim()) ?? msg;
  // WebGPU's assertion text ends in the useful part ("Failed to get a WebGPU adapter: ...").
  const failed = first.indexOf('Failed to ');
  return (failed > 0 ? first.slice(failed) : first).replace(/^\/onnxruntime_src\/\S+\s+/, '').trim().slice(0, 300);
}

/**
 * Opens `model` on the wanted provider. `auto` walks AUTO_ORDER; an explicit provider that
 * cannot run is an error (the operator asked for it). `probe` runs a tiny inference so a
 * provider that opens but cannot execute the graph counts as failed.
 */
export async function openOnProvider(
  model: Uint8Array,
  wanted: ProviderChoice,
  settings: SessionSettings,
  probe: (session: OrtTypes.InferenceSession) => Promise<void>,
  deps: {
    cudaReason?: () => string | undefined;
    webgpuReason?: () => string | undefined;
    create?: typeof ort.InferenceSession.create;
  } = {},
): Promise<{ session: OrtTypes.InferenceSession; provider: Provider; attempts: ProviderAttempt[] }> {
  const order = wanted === 'auto' ? AUTO_ORDER : [wanted];
  const cudaReason = deps.cudaReason ?? (() => cudaUnavailableReason());
  const webgpuReason = deps.webgpuReason ?? (() => webgpuUnavailableReason());
  const create = deps.create ?? ((m: Uint8Array, o: OrtTypes.InferenceSession.SessionOptions) => ort.InferenceSession.create(m, o));
  const attempts: ProviderAttempt[] = [];
  for (const provider of order) {
    if (provider === 'cuda') {
      const why = cudaReason();
      if (why) {
        attempts.push({ provider, ok: false, reason: why });
        continue;
      }
    }
    if (provider === 'webgpu' && wanted === 'auto') {
      const why = webgpuReason();
      if (why) {
        attempts.push({ provider, ok: false, reason: why });
        continue;
      }
    }
    let session: OrtTypes.InferenceSession | undefined;
    try {
      session = await create(model, sessionOptions(provider, settings));
      await probe(session);
      attempts.push({ provider, ok: true, reason: wanted === 'auto' ? 'first provider in cuda > webgpu > cpu that opened and ran the model' : 'configured' });
      return { session, provider, attempts };
    } catch (e) {
      await session?.release().catch(() => undefined);
      attempts.push({ provider, ok: false, reason: shortError(e) });
    }
  }
  const summary = attempts.map((a) => `${a.provider}: ${a.reason}`).join('; ');
  throw new Error(`no execution provider could run the model (${summary})`);
}
