// A new API token: name, role and an optional lifetime; the secret is in the server's answer
// only, so it is shown here once, to copy, and never again.

import { Alert, Button, Code, Group, Select, Stack, TextInput } from '@mantine/core';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, call, type Role } from '../../api/index.ts';
import { ErrorNotice } from '../../ui/index.ts';

const ROLES: Role[] = ['viewer', 'operator', 'admin', 'agent'];

export function NewToken() {
  const queryClient = useQueryClient();
  const [name, setName] = useState('');
  const [role, setRole] = useState<Role>('viewer');
  const [expiresIn, setExpiresIn] = useState('90d');
  const create = useMutation({
    mutationFn: () => call(api.POST('/api/v1/tokens', { body: { name, role, ...(expiresIn ? { expiresIn } : {}) } })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ['tokens'] }),
  });
  return (
    <Stack>
      <form onSubmit={(e) => { e.preventDefault(); create.mutate(); }}>
        <Group align="end" wrap="wrap">
          <TextInput label="Token name" required value={name} onChange={(e) => setName(e.currentTarget.value)} />
          <Select label="Token role" data={ROLES} value={role} onChange={(v) => setRole((v ?? 'viewer') as Role)} allowDeselect={false} w={140} />
          <TextInput label="Expires in" placeholder="90d (empty: never)" value={expiresIn} onChange={(e) => setExpiresIn(e.currentTarget.value)} w={160} />
          <Button type="submit" loading={create.isPending}>Create token</Button>
        </Group>
      </form>
      {create.isError && <ErrorNotice error={create.error} action="create the token" />}
      {create.data && (
        <Alert color="blue" variant="light" title={`Token ${create.data.record.name} created: copy it now, it is not shown again`}>
          <Code block data-testid="new-token" style={{ whiteSpace: 'pre-wrap', overflowWrap: 'anywhere' }}>{create.data.token}</Code>
        </Alert>
      )}
    </Stack>
  );
}
