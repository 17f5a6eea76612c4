// The models shipped in models/ (built by training/rebuild.sh, described in models/MODEL_CARD.md):
// one name for the config default, the CLI, the benchmarks and the tests, relative to the
// repository root.
export const SHIPPED_MODEL = 'models/interslice-v3.onnx';
/** Its PyTorch weights: where `interslice finetune` starts from. */
export const SHIPPED_CHECKPOINT = 'models/interslice-v3.pt';
/**
 * The thick-slice model: interslice-v3 trained on for 2000 steps with 95 % slab-averaged inputs.
 * On the evaluation volumes it beats v3 where the slices are as thick as their spacing (thick
 * drop-4 +0.68 against +0.53 dB over the best classical method, thick drop-2 +0.31 against
 * +0.08) and loses where they are thin (about -0.35 dB), so the node uses it for thick stacks only.
 */
export const SHIPPED_THICK_MODEL = 'models/interslice-v3-thick.onnx';

/**
 * pipeline.thickModelAbove when the configuration does not set it: stacks whose slice thickness
 * is more than this fraction of their spacing use the thick-slice model. Measured between the
 * evaluation protocol's two variants (models/MODEL_CARD.md "Two models, chosen by slice
 * thickness"): v3 is the better model at 0.5, the two are even at 0.75, the thick one is better
 * from 0.875 on every evaluation volume.
 */
export const THICK_MODEL_ABOVE_DEFAULT = 0.75;
