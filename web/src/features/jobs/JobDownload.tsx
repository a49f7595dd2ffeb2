// The disk image a restore job made for download. The API wants the session's token, which a
// plain link cannot send: the image is fetched, then handed to the browser as a file.

import { Button } from '@mantine/core';
import { useMutation } from '@tanstack/react-query';
import { api, call, type Job } from '../../api/index.ts';
import { useCan } from '../../app/useCan.ts';
import { ErrorNotice } from '../../ui/index.ts';

async function download(id: string): Promise<void> {
  const answer = api.GET('/api/v1/jobs/{id}/download', { params: { path: { id } }, parseAs: 'blob' });
  const blob = await call(answer as Promise<{ data?: Blob; error?: unknown; response: Response }>);
  const name = /filename="([^"]+)"/.exec((await answer).response.headers.get('content-disposition') ?? '')?.[1] ?? `${id}.img`;
  const url = URL.createObjectURL(blob);
  const a = Object.assign(document.createElement('a'), { href: url, download: name });
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

export function JobDownload({ job }: { job: Pick<Job, 'id' | 'kind' | 'state' | 'params'> }) {
  const can = useCan();
  const mutation = useMutation({ mutationFn: () => download(job.id) });
  if (job.kind !== 'restore' || job.params.download !== true || job.state !== 'succeeded' || !can('GET /api/v1/jobs/{id}/download')) return null;
  return (
    <>
      <Button size="xs" loading={mutation.isPending} onClick={() => mutation.mutate()}>Download disk {String(job.params.disk ?? '')}</Button>
      {mutation.isError && <ErrorNotice error={mutation.error} action="download the disk" />}
    </>
  );
}
