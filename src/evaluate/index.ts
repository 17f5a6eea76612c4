export { runEval, runEvalOnVolume, percentile, normScale, ssim2d, rebuiltIndices, type EvalOptions, type EvalResult, type EvalMethod } from './protocol.js';
export { loadVolume, readNifti, readDicomFolder, type Volume } from './volume.js';
export { runEvalTable, formatEvalTable, modelFor, TABLE_METHODS, type ThickModel, type EvalTable, type TableRow, type TableOptions, type Score, type Gain, type AdaptMean } from './table.js';
export { adaptAndScore, type AdaptEvalOptions, type AdaptRow } from './adapt.js';
