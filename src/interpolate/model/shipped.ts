// The model shipped in models/ (built by training/rebuild.sh, described in models/MODEL_CARD.md):
// one name for the config default, the CLI, the benchmarks and the tests, relative to the
// repository root.
export const SHIPPED_MODEL = 'models/interslice-v3.onnx';
/** Its PyTorch weights: where `interslice finetune` starts from. */
export const SHIPPED_CHECKPOINT = 'models/interslice-v3.pt';
