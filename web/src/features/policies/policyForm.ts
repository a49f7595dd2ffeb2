// The policy form's fields and how they become a request body. The server validates (cron,
// durations, repository names) and names the field it rejects; the form shows that message
// beside the field instead of repeating the rules here.

import type { Policy, PolicyUpdate } from '../../api/index.ts';

export interface PolicyFields {
  name: string;
  enabled: boolean;
  vms: string[];
  repositories: string[];
  schedule: string;
  timezone: string;
  rpo: string;
  keepLast: number | '';
  keepDaily: number | '';
  keepWeekly: number | '';
  keepMonthly: number | '';
  quiesce: 'auto' | 'require' | 'off';
}

export const NEW_POLICY: PolicyFields = {
  name: '', enabled: true, vms: [], repositories: [], schedule: '0 2 * * *', timezone: '', rpo: '26h',
  keepLast: 7, keepDaily: '', keepWeekly: '', keepMonthly: '', quiesce: 'auto',
};

export function fieldsOf(p: Policy): PolicyFields {
  const r = p.spec.retention ?? {};
  return {
    name: p.name, enabled: p.enabled, vms: [...p.spec.vms], repositories: [...p.spec.repositories], schedule: p.spec.schedule,
    timezone: p.spec.timezone ?? '', rpo: p.spec.rpo ?? '', keepLast: r.keepLast ?? '', keepDaily: r.keepDaily ?? '',
    keepWeekly: r.keepWeekly ?? '', keepMonthly: r.keepMonthly ?? '', quiesce: p.spec.quiesce,
  };
}

/** The PUT body; POST adds the name. Fields the form does not show keep their values from `base`. */
export function bodyOf(f: PolicyFields, base: Policy | undefined): PolicyUpdate {
  const retention: Record<string, number> = {};
  for (const k of ['keepLast', 'keepDaily', 'keepWeekly', 'keepMonthly'] as const) {
    const n = f[k];
    if (n !== '') retention[k] = n;
  }
  // copyTo is a string or a list on the way in and always a list on the way out; the document types the latter as unknown.
  const { retention: _r, timezone: _t, rpo: _p, copyTo, ...kept } = base?.spec ?? {};
  return {
    ...kept, ...(copyTo ? { copyTo: copyTo as string[] } : {}), enabled: f.enabled, vms: f.vms, repositories: f.repositories, schedule: f.schedule.trim(), quiesce: f.quiesce,
    ...(f.timezone.trim() ? { timezone: f.timezone.trim() } : {}),
    ...(f.rpo.trim() ? { rpo: f.rpo.trim() } : {}),
    ...(Object.keys(retention).length > 0 ? { retention } : {}),
  };
}

/** body.retention.keepLast → keepLast; body.vms[0] → vms: which form field a problem's `field` names. */
export function formFieldOf(problemField: string | undefined): string | null {
  const m = /^body\.(?:retention\.)?([A-Za-z]+)/.exec(problemField ?? '');
  return m ? m[1]! : null;
}
