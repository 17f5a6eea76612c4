// Defaults of per-series adaptation that the configuration and the CLI share (kept free of
// imports, so the CLI's entry point can show them without loading the rest).

/**
 * pipeline.adaptMaxThickness when the configuration does not set it: a stack whose slices are
 * thicker than this fraction of their spacing (or of unknown thickness) is not adapted. Adapting
 * on a thick stack lowered true PSNR in 9 of the 10 thick evaluation cases (slices as thick as
 * their spacing; down to -0.19 dB, models/MODEL_CARD.md "Per-series adaptation"); the adapted
 * weights gained on average only on thin slices (0.25 and 0.5 of the spacing).
 */
export const ADAPT_MAX_THICKNESS_DEFAULT = 0.75;
