// Execution-provider selection for onnxruntime-node. `auto` tries CUDA, then WebGPU, then CPU
// and records why each one that was skipped or failed could not run, so the log says which
// provider runs the model and why the faster ones did not.
import { existsSync } from 'node:fs';
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
  deps: { cudaReason?: () => string | undefined; create?: typeof ort.InferenceSession.create } = {},
): Promise<{ session: OrtTypes.InferenceSession; provider: Provider; attempts: ProviderAttempt[] }> {
  const order = wanted === 'auto' ? AUTO_ORDER : [wanted];
  const cudaReason = deps.cudaReason ?? (() => cudaUnavailableReason());
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
