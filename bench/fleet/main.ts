// npm run fleet -- --hosts N --vms-per-host M --duration S [--every S] [--kill-agent]
//   [--restart-redis] [--migrate-vm] [--json]
// Brings up N simulated hosts (bench/fleet/hosts.ts) with M small paused VMs each, the
// controller, Redis, PostgreSQL and an agent per host; runs a policy every --every seconds
// (default 30) for S seconds; restores every VM's latest backup and compares it; looks for
// leftovers; tears everything down by pid. The report comes last; with --json it is one
// JSON object on the last line of stdout. Exit 0 only when every VM's restore verified and
// nothing was left behind (nor lost, nor run twice).

import { parseArgs } from 'node:util';
import { DEFAULT_FLEET, runFleet, type FleetReport } from './run.ts';

const { values } = parseArgs({
  options: {
    hosts: { type: 'string', default: '2' },
    'vms-per-host': { type: 'string', default: '2' },
    duration: { type: 'string', default: '60' },
    every: { type: 'string', default: String(DEFAULT_FLEET.everySeconds) },
    streams: { type: 'string', default: String(DEFAULT_FLEET.streams) },
    'disk-mib': { type: 'string', default: String(DEFAULT_FLEET.diskBytes >> 20) },
    'kill-agent': { type: 'boolean', default: false },
    'restart-redis': { type: 'boolean', default: false },
    'migrate-vm': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});

function positive(name: string, value: string | undefined): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) { process.stderr.write(`fleet: --${name} wants a positive whole number, got ${value}\n`); process.exit(2); }
  return n;
}

function printHuman(r: FleetReport): void {
  const out = (s: string) => process.stdout.write(`${s}\n`);
  out('');
  out(`fleet report: ${r.ok ? 'OK' : 'FAILED'} (setup ${r.seconds.setup} s, run ${r.seconds.run} s, verify ${r.seconds.verify} s, teardown ${r.seconds.teardown} s)`);
  for (const [name, t] of Object.entries(r.hosts)) out(`  host ${name}: ${t.succeeded} jobs succeeded, ${t.failed} failed, ${t.retried} retried`);
  for (const [name, v] of Object.entries(r.vms)) out(`  vm ${name} on ${v.host}: ${v.backups} backups, restore ${v.restoreVerified ? 'verified' : `NOT verified: ${v.detail}`}`);
  if (r.killedAgent) out(`  killed agent ${r.killedAgent.host} (pid ${r.killedAgent.pid}) mid-job ${r.killedAgent.jobId} at ${r.killedAgent.atSeconds} s: job ${r.killedAgent.jobState}`);
  if (r.redisRestart) out(`  restarted Redis while job ${r.redisRestart.jobId} ran on ${r.redisRestart.host}: job ${r.redisRestart.jobState}`);
  for (const j of r.migrated?.jobsThatFoundItGone ?? []) out(`  a job placed before the move found the VM gone: ${j}`);
  if (r.migrated) out(`  moved ${r.migrated.vm} ${r.migrated.from} → ${r.migrated.to}: ${r.migrated.backupOnNewHost ?? 'no backup on the new host'}${r.migrated.bitmapsRemoved ? `; ${r.migrated.bitmapsRemoved}` : ''}`);
  for (const f of r.failures) out(`  not succeeded: ${f}`);
  out(`  lost: ${r.lost.length ? r.lost.join('; ') : 'none'}; run twice: ${r.duplicated.length ? r.duplicated.join('; ') : 'none'}`);
  if (r.skipped.length) out(`  skipped (previous run not finished): ${r.skipped.join('; ')}`);
  out(`  leftovers: ${r.leftovers.length ? r.leftovers.join('; ') : 'none'}${r.heldForGrace ? `; held by gc for its grace period: ${JSON.stringify(r.heldForGrace)}` : ''}`);
}

// Ctrl-C or SIGTERM: stop at the next check and tear down (by pid) before exiting.
const interrupt = new AbortController();
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => interrupt.abort(new Error(`fleet: interrupted (${sig})`)));

let report: FleetReport;
try {
  report = await runFleet({
    signal: interrupt.signal,
    ...DEFAULT_FLEET,
    hosts: positive('hosts', values.hosts), vmsPerHost: positive('vms-per-host', values['vms-per-host']), durationSeconds: positive('duration', values.duration),
    everySeconds: positive('every', values.every), streams: positive('streams', values.streams), diskBytes: positive('disk-mib', values['disk-mib']) << 20,
    killAgent: values['kill-agent'], restartRedis: values['restart-redis'], migrateVm: values['migrate-vm'],
    log: (line) => process.stderr.write(`fleet: ${line}\n`),
  });
} catch (err) {
  process.stderr.write(`${interrupt.signal.aborted ? (err as Error).message : (err as Error).stack}\n`);
  process.exit(interrupt.signal.aborted ? 130 : 1);
}
printHuman(report);
if (values.json) process.stdout.write(`${JSON.stringify(report)}\n`);
process.exit(report.ok ? 0 : 1);
