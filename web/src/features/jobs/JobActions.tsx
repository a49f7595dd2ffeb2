// Pause, resume, abort and retry — each shown only when the job's state allows it and the
// user's role may use it. After an action the job's page follows the job's new state.

import { Button, Group } from '@mantine/core';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useNavigate } from 'react-router';
import { api, call, type Job, type JobState } from '../../api/index.ts';
import { useCan } from '../../app/useCan.ts';
import { ErrorNotice } from '../../ui/index.ts';

type Action = 'pause' | 'resume' | 'abort' | 'retry';

const ALLOWED: Record<Action, readonly JobState[]> = {
  pause: ['queued', 'running'], resume: ['paused'], abort: ['queued', 'running', 'paused'], retry: ['failed', 'warning', 'aborted', 'interrupted'],
};

async function act(action: Action, id: string): Promise<Job> {
  const path = { params: { path: { id } } };
  switch (action) {
    case 'pause': return call(api.POST('/api/v1/jobs/{id}/pause', path));
    case 'resume': return call(api.POST('/api/v1/jobs/{id}/resume', path));
    case 'abort': return call(api.POST('/api/v1/jobs/{id}/abort', path));
    case 'retry': return call(api.POST('/api/v1/jobs/{id}/retry', path));
  }
}

export function JobActions({ job }: { job: Pick<Job, 'id' | 'state'> }) {
  const can = useCan();
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const mutation = useMutation({
    mutationFn: ({ action }: { action: Action }) => act(action, job.id),
    onSuccess: (result, { action }) => {
      void queryClient.invalidateQueries({ queryKey: ['job', job.id] });
      void queryClient.invalidateQueries({ queryKey: ['jobs'] });
      if (action === 'retry') void navigate(`/jobs/${result.id}`);
    },
  });
  const actions = (Object.keys(ALLOWED) as Action[])
    .filter((a) => ALLOWED[a].includes(job.state) && can(`POST /api/v1/jobs/{id}/${a}`));
  if (actions.length === 0 && !mutation.isError) return null;
  return (
    <>
      <Group gap="xs">
        {actions.map((action) => (
          <Button key={action} size="xs" variant="filled" color={action === 'abort' ? 'red' : undefined}
            loading={mutation.isPending && mutation.variables?.action === action} onClick={() => mutation.mutate({ action })}>
            {action[0]!.toUpperCase() + action.slice(1)}
          </Button>
        ))}
      </Group>
      {mutation.isError && <ErrorNotice error={mutation.error} action={`${mutation.variables?.action} the job`} />}
    </>
  );
}
