// How a repository is looked after, as one zod schema shared by the config file, the REST
// API and the stored JSON: when its new backups are verified (daily by default) and all of
// them (monthly, as PBS advises: a daily full re-read would cost more than the backups), when
// gc frees what no backup refers to (weekly), and when it counts as nearly full. `false`
// turns a task off. Field meanings: docs/config.md.

import { z } from 'zod';
import { parseSize } from '../core/index.ts';
import { checkCron, timezoneSchema } from './policy-spec.ts';

const schedule = z.union([z.string().superRefine(checkCron), z.literal(false)]);

export const careSpecSchema = z.strictObject({
  verifyNew: schedule.default('30 3 * * *'),
  verifyAll: schedule.default('0 4 1 * *'),
  gc: schedule.default('0 5 * * 0'),
  timezone: timezoneSchema.optional(),
  /** Alert repository.nearly-full at this share of the capacity in use. */
  nearlyFullPercent: z.number().min(1).max(100).default(90),
  /** The capacity to measure against where the target cannot tell (an S3 quota), e.g. "2TiB". */
  capacity: z.string().refine((s) => (parseSize(s) ?? 0) > 0, { error: 'give a size such as 500GiB or 2TiB' }).optional(),
});

export type CareSpec = z.output<typeof careSpecSchema>;
export type CareSpecInput = z.input<typeof careSpecSchema>;
export type CareTask = 'verifyNew' | 'verifyAll' | 'gc';
export const CARE_TASKS: readonly CareTask[] = ['verifyNew', 'verifyAll', 'gc'];

/** The defaults, for repositories stored before care specs existed or given none. */
export const defaultCareSpec = (): CareSpec => careSpecSchema.parse({});
