export { runEval, runEvalOnVolume, percentile, normScale, ssim2d, rebuiltIndices, type EvalOptions, type EvalResult, type EvalMethod } from './protocol.js';
export { loadVolume, readNifti, readDicomFolder, type Volume } from './volume.js';
