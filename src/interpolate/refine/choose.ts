// Which through-plane refiner a stack gets when several are configured. Each refiner is trained on
// some numbers of output steps per acquired gap (its ONNX metadata's training.ks: 2 and 4 for the
// short-gap one, 2 to 6 for the general one); a refiner trained on fewer factors is better at
// them (models/MODEL_CARD.md), so the order of the list decides where both were trained.

/** A refiner's training factors; undefined: not recorded, taken as fit for every factor. */
export interface FactorScoped {
  readonly factors?: readonly number[];
}

/**
 * The refiner for a stack synthesised with `factor` output steps per acquired gap: the first
 * listed one trained on that factor, else the one trained on the factor nearest it (the first of
 * those on a tie). Undefined only for an empty list.
 */
export function chooseRefiner<T extends FactorScoped>(refiners: readonly T[], factor: number): T | undefined {
  let best: T | undefined;
  let bestDistance = Infinity;
  for (const r of refiners) {
    const d = r.factors?.length ? Math.min(...r.factors.map((f) => Math.abs(f - factor))) : 0;
    if (d < bestDistance) {
      best = r;
      bestDistance = d;
    }
  }
  return best;
}

/** training.ks from a refiner's ONNX metadata (training/refiner.py writes it); undefined if absent or unreadable. */
export function trainingFactors(training: string | undefined): number[] | undefined {
  if (!training) return undefined;
  try {
    const ks = (JSON.parse(training) as { ks?: unknown }).ks;
    return Array.isArray(ks) && ks.length && ks.every((k) => Number.isInteger(k) && k >= 1) ? (ks as number[]) : undefined;
  } catch {
    return undefined;
  }
}
