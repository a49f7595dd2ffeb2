// The disk image a restore job made for download (`POST /backups/…/restore` with download:
// true). The image is restored whole and verified by the job first, so a download is never a
// half-made disk; operators only, as any restore. The path comes from the job's own params and
// must lie in the controller's downloads directory: a job queued with some other toDir is not a
// way to read the host's files.

import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { z } from 'zod';
import { getJob } from '../../catalog/index.ts';
import type { RestoreJobParams } from '../../controller/index.ts';
import { VmbakError } from '../../core/index.ts';
import { route } from '../routing.ts';

const contentDisposition = (fileName: string): string => `attachment; filename="${fileName.replace(/[^\w.-]/g, '_')}"`;

export const jobDownloadRoute = route({
  method: 'GET', url: '/jobs/:id/download', access: 'operator', tags: ['jobs'], download: true,
  summary: 'The disk image a succeeded restore job with download: true made (raw or qcow2)',
  params: z.strictObject({ id: z.string().min(1) }),
  async handler({ deps, params, reply }) {
    const job = await getJob(deps.controller.catalog, params.id);
    if (!job) throw new VmbakError('JOB_NOT_FOUND', { jobId: params.id });
    const p = job.params as unknown as RestoreJobParams & { download?: boolean };
    const dir = deps.controller.downloadsDir;
    if (job.kind !== 'restore' || p.download !== true || !p.toDir || !p.disk || !dir || !resolve(p.toDir).startsWith(resolve(dir) + sep)) {
      throw new VmbakError('JOB_NOT_RUNNING', { jobId: job.id, op: 'downloaded', detail: 'it is no restore for download' });
    }
    if (job.state !== 'succeeded') throw new VmbakError('JOB_NOT_RUNNING', { jobId: job.id, op: 'downloaded', detail: `it is ${job.state}` });
    const format = p.format ?? 'raw';
    const path = join(p.toDir, `${p.disk}.${format}`);
    const sizeBytes = (await stat(path).catch(() => null))?.size;
    if (sizeBytes === undefined) throw new VmbakError('JOB_NOT_RUNNING', { jobId: job.id, op: 'downloaded', detail: 'its image is gone' });
    return reply.code(200).header('content-type', 'application/octet-stream').header('content-length', sizeBytes)
      .header('content-disposition', contentDisposition(`${job.id}-${p.disk}.${format}`)).send(createReadStream(path));
  },
});
