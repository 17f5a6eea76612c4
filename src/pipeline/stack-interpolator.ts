// The interpolator each stack is synthesised with: the model chosen by the stack's slice
// thickness (interpolator.ts interpolatorFor), then adapted to the stack when pipeline.adapt says
// so (adapt-stack.ts). Both are part of the derived content: the chosen model's bytes and the
// adaptation are in its content id, so the UIDs follow them.
import type { Logger } from '../core/log.js';
import type { Interpolator } from '../core/types.js';
import type { StackAdapter } from './adapt-stack.js';
import type { ForStack } from './derive-stack.js';
import { interpolatorFor, type Interpolators } from './interpolator.js';

/** The per-stack hook for deriveStack; undefined when every stack gets `set.standard` as it is. */
export function stackInterpolators(
  set: Interpolators,
  adapter: StackAdapter | undefined,
  wrap: (i: Interpolator) => Interpolator,
  log: Logger,
): ForStack | undefined {
  if (!set.thick && !adapter) return undefined;
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
    return { ...s, interpolator: wrap(s.interpolator) };
  };
}
