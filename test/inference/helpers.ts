// Shared by the inference tests: the committed fixture models (fixtures/make-fixtures.py) and
// a smooth synthetic volume.
import { fileURLToPath } from 'node:url';
import type { Logger } from '../../src/core/log.js';
import type { VolumeF32 } from '../../src/core/types.js';

export const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
/** lerp + t(1-t) * two 3x3 convolutions: receptive field 5x5. */
export const LOCAL_MODEL = `${FIXTURES}local.onnx`;
/** Inputs a, b, t, p, q: Catmull-Rom through p, a, b, q, pixel by pixel. */
export const CONTEXT_MODEL = `${FIXTURES}context.onnx`;
/** Runs, but fails the sanity check. */
export const WILD_MODEL = `${FIXTURES}wild.onnx`;

export function syntheticVolume(slices: number, rows: number, cols: number, amplitude = 1000): VolumeF32 {
  const out: Float32Array[] = [];
  for (let k = 0; k < slices; k++) {
    const s = new Float32Array(rows * cols);
    for (let y = 0; y < rows; y++) {
      for (let x = 0; x < cols; x++) {
        const v = Math.sin(x / 9 + k) * Math.cos(y / 13 - k / 2) + Math.sin((x + y) / 31);
        s[y * cols + x] = amplitude * (1.2 + 0.5 * v + 0.05 * (((x * 7919 + y * 104729 + k * 31) % 97) / 97));
      }
    }
    out.push(s);
  }
  return { rows, columns: cols, slices: out, distances: out.map((_, k) => k * 5) };
}

export interface Captured {
  level: string;
  message: string;
  meta: Record<string, unknown>;
}

/** A Logger stand-in that records calls (only the methods the engine uses). */
export function captureLogger(): { log: Logger; lines: Captured[] } {
  const lines: Captured[] = [];
  const at = (level: string) => (message: string, meta: Record<string, unknown> = {}) => {
    lines.push({ level, message, meta });
  };
  const log = { info: at('info'), warn: at('warn'), error: at('error'), debug: at('debug') } as unknown as Logger;
  return { log, lines };
}

export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
