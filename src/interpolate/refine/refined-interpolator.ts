// An interpolator followed by the through-plane refiner: the stack is synthesised as before,
// then the refiner corrects the synthesised slices across the slices (refiner.ts). The
// acquired slices are never touched. The refiner is part of the derived content: its bytes are
// in the content id (so in the derived UIDs) and DerivationDescription names it.
import { REFINED_ACROSS, REFINED_BY, type Interpolator, type OutputSlice, type VolumeF32 } from '../../core/types.js';
import { denormalise, normalisationPercentile, normalise, stackScale } from '../engine/normalise.js';
import { rowDistances } from './planes.js';
import type { Refiner } from './refiner.js';

export class RefinedInterpolator implements Interpolator {
  constructor(
    readonly inner: Interpolator,
    readonly refiner: Refiner,
    /** The stack was synthesised by the thick-slice model (the refiner's thick input). */
    readonly thick: boolean,
  ) {}

  get method() {
    return this.inner.method;
  }

  get description(): string {
    return `${this.inner.description}${REFINED_BY}${this.refiner.description}${REFINED_ACROSS}`;
  }

  get contentId(): string {
    return `${this.inner.contentId ?? this.inner.method} ${this.refiner.contentId} thick:${this.thick ? 1 : 0}`;
  }

  get adaptation(): string | undefined {
    return this.inner.adaptation;
  }

  async interpolate(volume: VolumeF32, plan: OutputSlice[]): Promise<Float32Array[]> {
    const synthesised = await this.inner.interpolate(volume, plan);
    if (!synthesised.length) return synthesised;
    const scale = stackScale(volume, normalisationPercentile(this.refiner.metadata));
    let j = 0;
    // The synthesised slices are ours: normalised in place (one volume less in memory); the
    // acquired ones are copied.
    const slices = plan.map((p) => (p.sourceIndex !== undefined ? normalise(volume.slices[p.sourceIndex], scale) : denormalise(synthesised[j++], 1 / scale)));
    const refined = await this.refiner.refine(slices, rowDistances(plan), this.thick, volume.rows, volume.columns);
    const out: Float32Array[] = [];
    plan.forEach((p, i) => {
      if (p.sourceIndex === undefined) out.push(denormalise(refined[i] ?? slices[i], scale));
    });
    return out;
  }
}
