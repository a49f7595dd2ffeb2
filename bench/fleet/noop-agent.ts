// A no-op agent for the controller benchmark: it speaks the agent protocol — registers its
// host, reports an inventory of one VM, takes its host queue's jobs on BullMQ (as its own
// Redis user) — and for each job makes the calls a real backup job makes to the controller
// (repository credentials, the VM's result, a report with log lines, the final word), but
// reads and writes no data. What the controller spends per job is then its own overhead.

import { Worker, type Job } from 'bullmq';
import { randomUUID } from 'node:crypto';

interface Registration { readonly redisUrl: string; readonly queue: string }
interface QueuedJob { readonly job: { readonly id: string } }

export interface NoopAgent {
  readonly host: string;
  readonly vmUuid: string;
  readonly vmName: string;
  /** Starts taking jobs (an agent registered without a worker leaves its jobs queued). */
  work(concurrency: number): Promise<void>;
  close(): Promise<void>;
}

export async function startNoopAgent(base: string, token: string, host: string): Promise<NoopAgent> {
  const call = async <T>(method: string, path: string, body: unknown): Promise<T> => {
    const res = await fetch(`${base}/api/v1${path}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    return (res.status === 204 ? null : await res.json()) as T;
  };
  const reg = await call<Registration>('POST', `/agent/hosts/${host}/register`, { uri: `noop://${host}` });
  const vmUuid = randomUUID();
  const vmName = `noop-${host}`;
  await call('PUT', `/agent/hosts/${host}/inventory`, {
    uri: `noop://${host}`, vms: [{ uuid: vmUuid, name: vmName, state: 'paused', host, tags: [], disks: [] }],
  });
  let worker: Worker | null = null;
  const run = async (queued: Job<QueuedJob>) => {
    const id = queued.data.job.id;
    await call('POST', '/agent/store', { op: 'repository', name: 'local' });
    await call('POST', '/agent/store', { op: 'recordVmResult', jobId: id, result: { vmKey: vmUuid, vmName, state: 'succeeded', finishedMs: Date.now() } });
    await call('POST', `/agent/jobs/${id}/report`, {
      log: [{ level: 'info', message: `running on ${host}`, vmKey: null }, { level: 'info', message: `${vmName}: nothing to read (no-op)`, vmKey: vmUuid }],
      progress: { bytesRead: 0, bytesStored: 0, bytesToRead: null },
    });
    await call('POST', `/agent/jobs/${id}/finish`, { state: 'succeeded', error: null });
    return { state: 'succeeded', error: null };
  };
  return {
    host, vmUuid, vmName,
    async work(concurrency) {
      worker = new Worker(reg.queue, run, { connection: { url: reg.redisUrl, maxRetriesPerRequest: null }, concurrency });
      await worker.waitUntilReady();
    },
    async close() { await worker?.close(); },
  };
}
