/**
 * Label exchange formats: JSONL (one LabelRecord per line; importLabels reads it back) and
 * Label Studio's JSON task export (one task per image, one annotation per label, a `choices`
 * result named "label" on the "image" object).
 */
import { FeedbackError } from './errors.js';
import type { LabelImport, LabelRecord } from './types.js';

/** One JSON object per line, each line ending in "\n". */
export function toJsonl(records: readonly LabelRecord[]): string {
  return records.map((r) => JSON.stringify(r) + '\n').join('');
}

const IMPORT_KEYS = new Set([
  'image_id',
  'image_path',
  'prompt_id',
  'prompt',
  'category',
  'split',
  'model',
  'labeler',
  'labeler_kind',
  'value',
  'created_at',
]);

/**
 * Parses JSONL into import records. Blank lines are allowed; anything else that is not a JSON
 * object with `labeler`, `value` and `image_path` or `image_id` is refused, naming the line.
 * Fields that the export writes but the import does not need (prompt, category, ...) are accepted.
 */
export function parseLabelJsonl(text: string): LabelImport[] {
  const out: LabelImport[] = [];
  const lines = text.split('\n');
  for (const [i, raw] of lines.entries()) {
    const line = raw.trim();
    if (line === '') continue;
    const where = `line ${i + 1}`;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch (e) {
      throw new FeedbackError('invalid', `${where}: not JSON (${(e as Error).message})`);
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      throw new FeedbackError('invalid', `${where}: expected a JSON object`);
    }
    const o = v as Record<string, unknown>;
    for (const key of Object.keys(o)) {
      if (!IMPORT_KEYS.has(key)) throw new FeedbackError('invalid', `${where}: unknown field "${key}"`);
    }
    if (typeof o['labeler'] !== 'string')
      throw new FeedbackError('invalid', `${where}: "labeler" must be a string`);
    if (typeof o['value'] !== 'string')
      throw new FeedbackError('invalid', `${where}: "value" must be a string`);
    if (o['image_path'] === undefined && o['image_id'] === undefined) {
      throw new FeedbackError('invalid', `${where}: needs "image_path" or "image_id"`);
    }
    if (o['image_path'] !== undefined && typeof o['image_path'] !== 'string') {
      throw new FeedbackError('invalid', `${where}: "image_path" must be a string`);
    }
    if (o['image_id'] !== undefined && typeof o['image_id'] !== 'number') {
      throw new FeedbackError('invalid', `${where}: "image_id" must be a number`);
    }
    const rec: LabelImport = { labeler: o['labeler'], value: o['value'] as LabelImport['value'] };
    if (typeof o['image_path'] === 'string') rec.image_path = o['image_path'];
    else rec.image_id = o['image_id'] as number;
    if (o['labeler_kind'] !== undefined) rec.labeler_kind = o['labeler_kind'] as LabelImport['labeler_kind'];
    if (o['created_at'] !== undefined) {
      if (typeof o['created_at'] !== 'string')
        throw new FeedbackError('invalid', `${where}: "created_at" must be a string`);
      rec.created_at = o['created_at'];
    }
    out.push(rec);
  }
  return out;
}

/** The labeling interface that matches the export, for a Label Studio project. */
export const LABEL_STUDIO_CONFIG = `<View>
  <Image name="image" value="$image"/>
  <Text name="prompt" value="$prompt"/>
  <Choices name="label" toName="image" choice="single" showInLine="true">
    <Choice value="good"/>
    <Choice value="bad"/>
    <Choice value="skip"/>
  </Choices>
</View>
`;

export interface LabelStudioTask {
  id: number;
  data: { image: string; image_path: string; prompt: string; category: string; split: string; model: string };
  annotations: Array<{
    id: number;
    completed_by: { id: number; email: string; first_name: string };
    created_at: string;
    updated_at: string;
    was_cancelled: boolean;
    result: Array<{
      id: string;
      type: 'choices';
      from_name: 'label';
      to_name: 'image';
      origin: 'manual';
      value: { choices: string[] };
    }>;
  }>;
}

/**
 * Label Studio JSON export: tasks keyed by image id; `data.image` is the URL under which
 * `t2i-align serve` shows the image (prefix it with the server's address), `data.image_path` the
 * path inside the run folder. Labelers become `completed_by` users named by their labeler name.
 */
export function toLabelStudio(
  records: readonly LabelRecord[],
  opts: { imageUrlPrefix?: string } = {},
): LabelStudioTask[] {
  const prefix = opts.imageUrlPrefix ?? '/images/';
  const tasks = new Map<number, LabelStudioTask>();
  const users = new Map<string, number>();
  let annotationId = 0;
  for (const r of records) {
    let task = tasks.get(r.image_id);
    if (!task) {
      task = {
        id: r.image_id,
        data: {
          image: `${prefix}${r.image_id}`,
          image_path: r.image_path,
          prompt: r.prompt,
          category: r.category,
          split: r.split,
          model: r.model,
        },
        annotations: [],
      };
      tasks.set(r.image_id, task);
    }
    let user = users.get(r.labeler);
    if (user === undefined) {
      user = users.size + 1;
      users.set(r.labeler, user);
    }
    annotationId++;
    task.annotations.push({
      id: annotationId,
      completed_by: {
        id: user,
        email: `${r.labeler.replace(/[^A-Za-z0-9._-]/g, '_')}@t2i-align.local`,
        first_name: r.labeler,
      },
      created_at: r.created_at,
      updated_at: r.created_at,
      was_cancelled: false,
      result: [
        {
          id: `l${annotationId}`,
          type: 'choices',
          from_name: 'label',
          to_name: 'image',
          origin: 'manual',
          value: { choices: [r.value] },
        },
      ],
    });
  }
  return [...tasks.values()];
}
