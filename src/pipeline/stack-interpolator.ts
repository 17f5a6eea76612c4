// The interpolator each stack is synthesised with: the model chosen by the stack's slice
// thickness (interpolator.ts interpolatorFor), then adapted to the stack when pipeline.adapt says
// so (adapt-stack.ts), then followed by the through-plane refiner when one is configured. All are
// part of the derived content: the chosen model's bytes, the adaptation and the refiner's bytes
// are in its content id, so the UIDs follow them.
import type { Logger } from '../core/log.js';
import type { Interpolator } from '../core/types.js';
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
): ForStack | undefined {
  if (!set.thick && !adapter && !set.refiner) return undefined;
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
    const s = adapter
      ? await adapter.forStack(chosen.interpolator, stack, sources, volume)
      : { interpolator: chosen.interpolator, release: async () => undefined };
    // The refiner's thick input says which model made the stack (as it was trained).
    const refined = set.refiner ? new RefinedInterpolator(s.interpolator, set.refiner, chosen.thick) : s.interpolator;
    return { ...s, interpolator: wrap(refined) };
  };
}
