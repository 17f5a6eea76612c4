// The models shipped in models/ (built by training/rebuild.sh, described in models/MODEL_CARD.md):
// one name for the config default, the CLI, the benchmarks and the tests, relative to the
// repository root.
//
// Both models are interslice-v3 (models/interslice-v3.onnx, kept as their common parent and for
// the measurements made with it) trained on for one more run: the standard one with 5 % slab-
// averaged (thick) inputs, the thick one with 95 %. Each beats v3 where it is used and loses
// where it is not (models/MODEL_CARD.md "Two models, chosen by slice thickness").

/** The standard model: stacks with thin slices for their spacing, or of unknown thickness. */
export const SHIPPED_MODEL = 'models/interslice-v3-thin.onnx';
/** Its PyTorch weights: where `interslice finetune` starts from. */
export const SHIPPED_CHECKPOINT = 'models/interslice-v3-thin.pt';
/**
 * The thick-slice model: interslice-v3 trained on for 2000 steps with 95 % slab-averaged inputs.
 * On the evaluation volumes it beats v3 where the slices are as thick as their spacing (thick
 * drop-4 +0.68 against +0.53 dB over the best classical method, thick drop-2 +0.31 against
 * +0.08) and loses where they are thin (about -0.3 dB), so the node uses it for thick stacks only.
 */
export const SHIPPED_THICK_MODEL = 'models/interslice-v3-thick.onnx';

/**
 * The through-plane refiner (training/refiner.py), run after either model: a small network on
 * the planes that cross the finished stack, which corrects the synthesised slices from many
 * acquired slices at once (models/MODEL_CARD.md "The through-plane refiner").
 */
export const SHIPPED_REFINER = 'models/interslice-refiner-1.onnx';

/**
 * The refiner trained on 2 and 4 output steps per acquired gap only (32 channels, convolving
 * along the slices only): better than SHIPPED_REFINER at those factors (models/MODEL_CARD.md).
 */
export const SHIPPED_SHORT_REFINER = 'models/interslice-refiner-short-1.onnx';

/** pipeline.refinerPath's default: the short-gap refiner where it was trained, the general one elsewhere. */
export const SHIPPED_REFINERS = [SHIPPED_SHORT_REFINER, SHIPPED_REFINER] as const;

/**
 * pipeline.thickModelAbove when the configuration does not set it: stacks whose slice thickness
 * is more than this fraction of their spacing use the thick-slice model. Measured between the
 * evaluation protocol's two variants (models/MODEL_CARD.md "Where the two models cross"): the
 * thin model has the higher PSNR at 0.5, the two are about even at 0.625 (the thick one has the
 * higher SSIM from 0.5 on), and from 0.75 the thick one is better (at drop-2 on every volume).
 */
export const THICK_MODEL_ABOVE_DEFAULT = 0.65;
