/**
 * The caption-noise knobs that `pretrain clip` and `pretrain diffusion` expose as flags: how often a
 * corpus caption states the count, a color, or the background, and how often a stated color or
 * background is wrong (src/world/corpus.ts, CaptionNoise). Lower mention rates give the model fewer
 * examples of that attribute, so it learns it later; this is how the original model is tuned towards
 * the paper's Table 2 good-rates. Wrong mentions teach it that the caption is not always right about
 * the attribute, a weak lever under guidance 5 (docs/models.md).
 */
import type { CaptionNoise } from '../world/corpus.js';
import { numberOption, type OptionSpec, type ParsedValues } from './args.js';
import { UserError } from './errors.js';

const KNOBS = {
  'count-mention-prob': { key: 'countMentionProb', what: 'that a caption states the count' },
  'color-mention-prob': { key: 'colorMentionProb', what: 'that a caption states a non-natural color' },
  'color-wrong-prob': { key: 'colorWrongProb', what: 'that a stated color is a wrong one' },
  'background-mention-prob': {
    key: 'backgroundMentionProb',
    what: 'that a caption states a non-plain background',
  },
  'background-wrong-prob': { key: 'backgroundWrongProb', what: 'that a stated background is a wrong one' },
} as const satisfies Record<string, { key: keyof CaptionNoise; what: string }>;

export type CaptionNoiseFlag = keyof typeof KNOBS;

/** Option specs of the knobs (no default: unset means the corpus's own value). */
export const CAPTION_NOISE_OPTIONS: Record<CaptionNoiseFlag, OptionSpec> = Object.fromEntries(
  Object.entries(KNOBS).map(([flag, k]) => [
    flag,
    {
      type: 'string',
      help: `caption-noise knob: probability ${k.what} (default: the corpus's, src/world/corpus.ts)`,
    },
  ]),
) as Record<CaptionNoiseFlag, OptionSpec>;

/** The knobs set on the command line, as CaptionNoise fields; each must be a probability. */
export function captionNoiseOverrides(values: ParsedValues): Partial<CaptionNoise> {
  const out: Partial<Record<keyof CaptionNoise, number>> = {};
  for (const [flag, k] of Object.entries(KNOBS)) {
    if (values[flag] === undefined) continue;
    const p = numberOption(values, flag, { min: 0 });
    if (p > 1) throw new UserError(`--${flag} must be a probability in [0, 1], got ${p}`);
    out[k.key] = p;
  }
  return out as Partial<CaptionNoise>;
}

/** The flags that reproduce `overrides`, for the command line a checkpoint's README records. */
export function captionNoiseFlags(overrides: Partial<CaptionNoise>): string {
  return Object.entries(KNOBS)
    .filter(([, k]) => overrides[k.key] !== undefined)
    .map(([flag, k]) => ` --${flag} ${overrides[k.key]}`)
    .join('');
}

/** Whether a recorded caption-noise object (a checkpoint's or a work folder's) equals `noise`, key by key. */
export function sameCaptionNoise(recorded: unknown, noise: CaptionNoise): boolean {
  if (typeof recorded !== 'object' || recorded === null) return false;
  const r = recorded as Record<string, unknown>;
  const keys = Object.keys(noise) as (keyof CaptionNoise)[];
  return (
    Object.keys(r).length === keys.length &&
    keys.every((k) => JSON.stringify(r[k]) === JSON.stringify(noise[k]))
  );
}
