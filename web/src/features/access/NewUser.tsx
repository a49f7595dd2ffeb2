// A new console user: name, role and a password typed or generated here (then shown once, to
// hand over). The server checks the length and the name (its 400 names the field); the
// password is write-only there, so this form is the only place it is ever seen.

import { Alert, Button, Code, Group, PasswordInput, Select, Stack, TextInput, Title } from '@mantine/core';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, call, type Role } from '../../api/index.ts';
import { ErrorNotice } from '../../ui/index.ts';

const ROLES: { value: Role; label: string }[] = [
  { value: 'viewer', label: 'viewer: sees, changes nothing' },
  { value: 'operator', label: 'operator: runs and restores' },
  { value: 'admin', label: 'admin: also users, settings' },
];

/** 20 characters from a 56-letter alphabet without look-alikes: about 116 bits. */
function generatePassword(): string {
  const alphabet = 'abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789';
  const bytes = crypto.getRandomValues(new Uint8Array(20));
  return [...bytes].map((b) => alphabet[b % alphabet.length]).join('');
}

export function NewUser() {
  const queryClient = useQueryClient();
  const [name, setName] = useState('');
  const [role, setRole] = useState<Role>('viewer');
  const [password, setPassword] = useState('');
  const [generated, setGenerated] = useState(false);
  const create = useMutation({
    mutationFn: () => call(api.POST('/api/v1/users', { body: { name, role, password } })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ['users'] }),
  });
  return (
    <Stack component="section" aria-labelledby="new-user" gap="xs">
      <Title order={3} size="h5" id="new-user">New user</Title>
      <form onSubmit={(e) => { e.preventDefault(); create.mutate(); }}>
        <Group align="end" wrap="wrap">
          <TextInput label="User name" required value={name} onChange={(e) => setName(e.currentTarget.value)} autoComplete="off" />
          <Select label="User role" data={ROLES} value={role} onChange={(v) => setRole((v ?? 'viewer') as Role)} allowDeselect={false} w={{ base: '100%', sm: 320 }} />
          <PasswordInput label="Initial password" required value={password} autoComplete="new-password" w={240} description="8 characters at least"
            onChange={(e) => { setPassword(e.currentTarget.value); setGenerated(false); }} />
          <Button variant="default" onClick={() => { setPassword(generatePassword()); setGenerated(true); }}>Generate</Button>
          <Button type="submit" loading={create.isPending}>Create user</Button>
        </Group>
      </form>
      {create.isError && <ErrorNotice error={create.error} action="create the user" />}
      {create.data && (
        <Alert color="blue" variant="light" title={`User ${create.data.name} created as ${create.data.role}`} role="status">
          {generated ? <>Hand over the generated password now, it is not shown again: <Code data-testid="new-password">{password}</Code></> : 'They log in with the password you typed.'}
        </Alert>
      )}
    </Stack>
  );
}
