// The interpolator each stack is synthesised with: the model chosen by the stack's slice
// thickness (interpolator.ts interpolatorFor), then adapted to the stack when pipeline.adapt says
// so (adapt-stack.ts), then followed by the through-plane refiner for the stack's factor when any
// is configured (refine/choose.ts). All are part of the derived content: the chosen model's bytes,
// the adaptation and the chosen refiner's bytes are in its content id, so the UIDs follow them.
import type { Logger } from '../core/log.js';
import type { Interpolator, SpacingTarget } from '../core/types.js';
import { stepsPerGap } from '../core/plan.js';
import { chooseRefiner } from '../interpolate/refine/choose.js';
import { volumeSlices } from '../assemble/pixels.js';
import type { StackAdapter } from './adapt-stack.js';
import type { ForStack } from './derive-stack.js';
import { RefinedInterpolator } from '../interpolate/refine/refined-interpolator.js';
import { interpolatorFor, type Interpolators } from './interpolator.js';

/** The per-stack hook for deriveStack; undefined when every stack gets `set.standard` as it is. */
export function stackInterpolators(
  set: Interpolators,
  adapter: StackAdapter | undefined,
  wrap: (i: Interpolator) => Interpolator,
  log: Logger,
  target: SpacingTarget,
): ForStack | undefined {
  if (!set.thick && !adapter && !set.refiners) return undefined;
  return async (stack, sources, volume) => {
    const chosen = interpolatorFor(set, stack);
    if (set.thick) {
      log.info(chosen.thick ? 'thick stack: the thick-slice model is used' : 'the standard model is used', {
        event: 'model-chosen',
        stackId: stack.id,
        thickness: chosen.thickness ?? null,
        above: set.thick.above,
        model: chosen.interpolator.description,
      });
    }
    // The refiner for the stack's steps per gap, as derive-stack will plan them (on its first
    // volume's distances, as loadStackVolume gives them); chosen before the adaptation, which
    // holds resources until released.
    const first = set.refiners ? volumeSlices(stack) : [];
    const refiner = set.refiners && first.length > 1 ? chooseRefiner(set.refiners, stepsPerGap(first.map((x) => x.distance), target)) : undefined;
    const s = adapter
      ? await adapter.forStack(chosen.interpolator, stack, sources, volume)
      : { interpolator: chosen.interpolator, release: async () => undefined };
    // The refiner's thick input says which model made the stack (as it was trained).
    const refined = refiner ? new RefinedInterpolator(s.interpolator, refiner, chosen.thick) : s.interpolator;
    return { ...s, interpolator: wrap(refined) };
  };
}
