/**
 * The metrics.json contract (DESIGN.md, "report/metrics.json") and its validator: a complete
 * document validates, and each kind of mistake is named by its path.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type MetricsJson,
  metricsErrors,
  PAPER_MODELS,
  PAPER_PANELS,
  validateMetrics,
} from '../../src/eval/metrics.js';

const cats = (x: number | null) => ({ count: x, color: x, background: x, combination: x, all: x });

function complete(): MetricsJson {
  const hist = [0, 0, 0, 0.1, 0.1, 0.1, 0.2, 0.2, 0.2, 0.1];
  const model = {
    alignment: { seen: { ...cats(0.5), combination: null }, unseen: cats(0.25) },
    wellformed: 0.9,
    reward_mean: 0.43,
    clip_score: 0.21,
    fd: 0.8,
  };
  return {
    preset: 'smoke',
    models: Object.fromEntries(PAPER_MODELS.map((m) => [m, structuredClone(model)])),
    reward_model: {
      accuracy: cats(0.9),
      clip_score_accuracy: { ...cats(0.7), background: null },
      size_ablation: [0.1, 0.25, 0.5, 1].map((fraction) => ({ fraction, accuracy: 0.8 })),
      protocols: {
        images: {
          accuracy: cats(0.92),
          clip_score_accuracy: cats(0.75),
          size_ablation: [0.1, 0.25, 0.5, 1].map((fraction) => ({ fraction, accuracy: 0.85 })),
        },
        prompts: {
          accuracy: cats(0.9),
          clip_score_accuracy: { ...cats(0.7), background: null },
          size_ablation: [0.1, 0.25, 0.5, 1].map((fraction) => ({ fraction, accuracy: 0.8 })),
        },
      },
    },
    panel: Object.fromEntries(
      PAPER_PANELS.map((p) => [
        p,
        { alignment: { votes_hist: hist, win_7plus: 0.5 }, fidelity: { votes_hist: hist, win_7plus: 0.5 } },
      ]),
    ),
  };
}

test('a complete metrics.json validates, also through a JSON round trip', () => {
  const m = complete();
  assert.deepEqual(metricsErrors(m, { complete: true }), []);
  assert.deepEqual(validateMetrics(JSON.parse(JSON.stringify(m)), { complete: true }), m);
  // a partial evaluation (evaluate on two models, no labeled run) validates unless complete is asked
  const partial = { preset: 'custom', models: { a: m.models['original']! }, panel: {} };
  assert.deepEqual(metricsErrors(partial), []);
  assert.ok(metricsErrors(partial, { complete: true }).length > 0);
});

test('each mistake is named by its path', () => {
  const cases: [string, (m: MetricsJson) => void, RegExp][] = [
    ['missing model', (m) => delete m.models['rejection16to4'], /models: missing "rejection16to4"/],
    [
      'share above 1',
      (m) => (m.models['original']!.wellformed = 1.2),
      /models\.original\.wellformed: expected a number in \[0, 1\]/,
    ],
    [
      'NaN reward',
      (m) => (m.models['finetuned']!.reward_mean = Number.NaN),
      /models\.finetuned\.reward_mean: expected a finite number/,
    ],
    [
      'negative FD',
      (m) => (m.models['finetuned']!.fd = -1),
      /models\.finetuned\.fd: expected a finite number >= -0\.000001/,
    ],
    [
      'CLIP score beyond a cosine',
      (m) => (m.models['original']!.clip_score = 3),
      /clip_score: a mean cosine lies in \[-1, 1\]/,
    ],
    [
      'missing category',
      (m) =>
        delete (m.models['original']!.alignment.unseen as Partial<Record<string, unknown>>)['combination'],
      /models\.original\.alignment\.unseen: missing "combination"/,
    ],
    [
      'histogram of 9 bins',
      (m) => (m.panel['finetuned_vs_original']!.alignment.votes_hist = new Array(9).fill(1 / 9)),
      /panel\.finetuned_vs_original\.alignment\.votes_hist: expected 10 numbers/,
    ],
    [
      'histogram not summing to 1',
      (m) => (m.panel['finetuned_vs_original']!.fidelity.votes_hist = new Array(10).fill(0.2)),
      /fidelity\.votes_hist: shares sum to 2\.000000, not 1/,
    ],
    [
      'win_7plus not the tail of the histogram',
      (m) => (m.panel['rejection16to4_vs_original']!.alignment.win_7plus = 0.9),
      /win_7plus: 0\.9 is not votes_hist\[7\] \+ \[8\] \+ \[9\] = 0\.5/,
    ],
    [
      'missing panel',
      (m) => delete m.panel['finetuned_vs_rejection16to4'],
      /panel: missing "finetuned_vs_rejection16to4"/,
    ],
    [
      'missing ablation fraction',
      (m) => m.reward_model!.size_ablation.splice(0, 1),
      /no entry for fraction 0\.1/,
    ],
    ['missing reward section', (m) => delete m.reward_model, /metrics: missing "reward_model"/],
    [
      'missing protocol',
      (m) => delete (m.reward_model!.protocols as Partial<Record<string, unknown>>)['images'],
      /reward_model\.protocols: missing "images"/,
    ],
    [
      'protocol accuracy out of range',
      (m) => (m.reward_model!.protocols!.images.accuracy.count = 1.5),
      /reward_model\.protocols\.images\.accuracy\.count: expected a number in \[0, 1\]/,
    ],
    [
      'protocol ablation without a fraction',
      (m) => m.reward_model!.protocols!.images.size_ablation!.splice(0, 1),
      /reward_model\.protocols\.images\.size_ablation: no entry for fraction 0\.1/,
    ],
    [
      'no protocols in a complete file',
      (m) => delete m.reward_model!.protocols,
      /reward_model: missing "protocols"/,
    ],
    ['empty preset', (m) => (m.preset = ''), /preset: expected a non-empty string/],
  ];
  for (const [what, change, pattern] of cases) {
    const m = complete();
    change(m);
    const errors = metricsErrors(m, { complete: true });
    assert.ok(
      errors.some((e) => pattern.test(e)),
      `${what}: ${JSON.stringify(errors)}`,
    );
    assert.throws(() => validateMetrics(m, { complete: true }), /does not follow the contract/);
  }
  assert.deepEqual(metricsErrors([]), ['metrics: expected a JSON object']);
});
