import { externalSection } from './external_section';
import { modelSection } from './model_section';
import type { Section } from './types';

/**
 * Everything `inception bench` measures, in order; `--only` picks by id (or by prefix: `infer`, `train`).
 * Adding a measurement is one line here.
 */
export const SECTIONS: Section[] = [
  modelSection('inference', 224, 1),
  modelSection('inference', 224, 8),
  modelSection('inference', 224, 32, { slow: true }),
  modelSection('training', 224, 8),
  modelSection('training', 224, 32, { slow: true }),
  modelSection('training', 32, 128),
  externalSection('serve', 'HTTP inference service under load (inception serve)', 'serve_load'),
];
