// Maps the validated configuration onto the select stage's rules (the stage keeps its own
// defaults for what the configuration does not expose).
import type { Config } from '../config/schema.js';
import { defaultSelectRules, type SelectRules } from '../select/rules.js';

export function rulesFromConfig(cfg: Config): SelectRules {
  const s = cfg.pipeline.select;
  return {
    ...defaultSelectRules,
    modalities: s.modalities,
    minSlices: s.minSlices,
    minSpacingRatio: s.minSpacingRatio,
    minSpacingMm: s.minSpacingMm,
  };
}
