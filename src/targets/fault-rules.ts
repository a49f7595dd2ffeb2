// The rules a FaultyTarget follows, and where they come from: built by an in-process test, or
// read from VMBAK_TEST_FAULTS (a JSON array) so a test can switch faults on in a child
// process — a vmbak command it runs — without that process knowing. A malformed value is a
// CONFIG_INVALID naming the variable, never ignored: a fault test that silently injects
// nothing would pass for the wrong reason.
//
// A rule matches a call when its op is the call's (or '*') and `match` is a substring of the
// object name (of the prefix, for list), and `target`, if given, of the target's location. Every rule counts the calls it matches, per process
// (see faultPlanFromEnv), whether or not it fires; the first rule that fires decides.

import { z } from 'zod';
import { VmbakError, errorRegistry, type ErrorCode } from '../core/index.ts';

export const FAULTS_ENV_VAR = 'VMBAK_TEST_FAULTS';

export const FAULT_OPS = ['put', 'create', 'get', 'list', 'delete', 'stat'] as const;
export type FaultOp = (typeof FAULT_OPS)[number];

const errorCodes = Object.keys(errorRegistry) as [ErrorCode, ...ErrorCode[]];

const ruleSchema = z.strictObject({
  op: z.enum([...FAULT_OPS, '*']),
  match: z.string().optional(),
  /** A substring of the target's location (displayUrl): the rule applies to that target only. */
  target: z.string().optional(),
  nth: z.int().positive().optional(),
  from: z.int().positive().optional(),
  action: z.enum(['fail', 'full', 'drop', 'hang', 'hold', 'delay']),
  ms: z.int().nonnegative().optional(),
  releaseFile: z.string().min(1).optional(),
  heldFile: z.string().min(1).optional(),
  code: z.enum(errorCodes, { error: 'not a code of the error registry (src/core/errors.ts)' }).optional(),
})
  .refine((r) => r.nth === undefined || r.from === undefined, 'give nth or from, not both')
  .refine((r) => (r.action === 'hold') === (r.releaseFile !== undefined), 'releaseFile is needed by hold, and only by hold')
  .refine((r) => r.action === 'hold' || r.heldFile === undefined, 'heldFile belongs to hold')
  .refine((r) => (r.action === 'delay') === (r.ms !== undefined), 'ms is needed by delay, and only by delay')
  .refine((r) => r.action === 'fail' || r.code === undefined, 'code belongs to fail');

export type FaultRule = z.infer<typeof ruleSchema>;

/** Checks rules; `source` names where they came from, for the error. */
export function parseFaultRules(value: unknown, source: string): FaultRule[] {
  const parsed = z.array(ruleSchema).safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const where = issue.path.map((key) => (typeof key === 'number' ? `[${key}]` : `.${String(key)}`)).join('');
  throw new VmbakError('CONFIG_INVALID', { detail: `${source}${where}: ${issue.message}` });
}

/** Rules with their per-rule call counts. */
export class FaultPlan {
  readonly rules: readonly FaultRule[];
  private readonly matchedCalls: number[];

  constructor(rules: readonly FaultRule[]) {
    this.rules = parseFaultRules(rules, 'fault rules');
    this.matchedCalls = this.rules.map(() => 0);
  }

  /** Counts this call against every rule it matches; returns the first rule that fires, or null. */
  pick(op: FaultOp, object: string, targetUrl = ''): FaultRule | null {
    let firing: FaultRule | null = null;
    this.rules.forEach((rule, i) => {
      if (rule.op !== '*' && rule.op !== op) return;
      if (rule.match !== undefined && !object.includes(rule.match)) return;
      if (rule.target !== undefined && !targetUrl.includes(rule.target)) return;
      const n = ++this.matchedCalls[i]!;
      const fires = rule.nth !== undefined ? n === rule.nth : rule.from !== undefined ? n >= rule.from : true;
      if (fires && firing === null) firing = rule;
    });
    return firing;
  }

  /** How many calls rule `index` has matched so far. */
  matched(index: number): number {
    return this.matchedCalls[index] ?? 0;
  }
}

let fromEnv: { text: string; plan: FaultPlan } | null = null;

/**
 * The plan VMBAK_TEST_FAULTS describes, or null when it is unset or empty. One plan per
 * process and value, so every target the process opens counts calls against the same rules.
 */
export function faultPlanFromEnv(env: NodeJS.ProcessEnv = process.env): FaultPlan | null {
  const text = env[FAULTS_ENV_VAR];
  if (text === undefined || text.trim() === '') return null;
  if (fromEnv?.text === text) return fromEnv.plan;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new VmbakError('CONFIG_INVALID', { detail: `${FAULTS_ENV_VAR} is not JSON: ${(err as Error).message}` });
  }
  fromEnv = { text, plan: new FaultPlan(parseFaultRules(value, FAULTS_ENV_VAR)) };
  return fromEnv.plan;
}
