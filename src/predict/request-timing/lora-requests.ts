import { z } from 'zod';
import { ValidationError } from '../../core/errors.js';
import { firstIssue } from '../../core/field-issues.js';

/**
 * The columns the `lora` request format reads from the Alibaba GenAI serving trace
 * (`lora_request_trace.csv`), found by name in its header, in any order, among any others:
 * when (`gmt_create`, `YYYY-MM-DD HH:MM:SS`, shifted by the publisher, read as UTC), who
 * (`groupId`: the user group that asked) and what (`checkpoint_model_version_id`: the model the
 * request needs loaded, the "program" of policies that learn per program).
 *
 * Every request counts, whatever its `predict_status` (SUCCEED, FAILED, PENDING …), so the column
 * is not read: what is scored is *when a client asks* for its machine, and a client asked either
 * way — a failed request still needed the group's model loaded on a machine when it arrived, and a
 * pending one was asked and not yet answered when the trace was cut. Whether the service then
 * succeeded says nothing about when the group came back.
 */
export const loraColumns = ['gmt_create', 'groupId', 'checkpoint_model_version_id'] as const;

// Opaque ids: printable ASCII, no spaces or commas, bounded (a hostile file cannot grow a key without limit).
const opaqueId = /^[\x21-\x2b\x2d-\x7e]*$/;
const loraRowSchema = z.object({
  gmt_create: z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/, 'expected YYYY-MM-DD HH:MM:SS')
    .transform((s, ctx) => {
      const ms = Date.parse(`${s.replace(' ', 'T')}Z`);
      // Date.parse rolls 2024-02-30 over to March: a real date prints back as itself.
      if (!Number.isFinite(ms) || new Date(ms).toISOString().slice(0, 19) !== s.replace(' ', 'T')) {
        ctx.addIssue({ code: 'custom', message: `not a real date and time: ${JSON.stringify(s)}` });
        return z.NEVER;
      }
      return ms / 1000;
    }),
  groupId: z.string().min(1, 'empty: every request names the group that asked').max(128).regex(opaqueId, 'printable characters only, no spaces'),
  // 25 requests of the shipped trace name no model: still requests of their group, program unknown ('').
  checkpoint_model_version_id: z.string().max(128).regex(opaqueId, 'printable characters only, no spaces'),
});

/**
 * A reader of the format's lines, in order (`n`: the 1-based line number, for errors): the first
 * line is the header; each later one gives one request, or undefined for a blank line. Bad input
 * throws a ValidationError naming the line and the field.
 */
export function loraLineReader(): (line: string, n: number) => { user: string; time: number; program: string } | undefined {
  let index: Record<(typeof loraColumns)[number], number> | undefined;
  let width = 0;
  return (line, n) => {
    if (!index) {
      const names = line.split(',').map((c) => c.trim());
      const missing = loraColumns.filter((c) => !names.includes(c));
      if (missing.length) throw new ValidationError(`line ${n}`, `the header needs the columns ${loraColumns.join(', ')}; missing ${missing.join(', ')}`);
      const twice = loraColumns.find((c) => names.indexOf(c) !== names.lastIndexOf(c));
      if (twice) throw new ValidationError(`line ${n}: ${twice}`, 'the header names this column twice');
      index = { gmt_create: names.indexOf('gmt_create'), groupId: names.indexOf('groupId'), checkpoint_model_version_id: names.indexOf('checkpoint_model_version_id') };
      width = names.length;
      return undefined;
    }
    if (line.trim() === '') return undefined;
    // The trace quotes nothing (no value holds a comma); a quote means another dialect, misread by a split.
    if (line.includes('"')) throw new ValidationError(`line ${n}`, 'quoted fields are not part of this format');
    const cells = line.split(',');
    if (cells.length !== width) throw new ValidationError(`line ${n}`, `expected ${width} fields (as the header), found ${cells.length}`);
    const parsed = loraRowSchema.safeParse({
      gmt_create: cells[index.gmt_create]!.trim(),
      groupId: cells[index.groupId]!.trim(),
      checkpoint_model_version_id: cells[index.checkpoint_model_version_id]!.trim(),
    });
    if (!parsed.success) {
      // The line is the place, the column its field (a row is flat: the path is one column's name).
      const issue = firstIssue(parsed.error);
      throw new ValidationError(`line ${n}: ${issue.path}`, issue.message);
    }
    return { user: parsed.data.groupId, time: parsed.data.gmt_create, program: parsed.data.checkpoint_model_version_id };
  };
}
