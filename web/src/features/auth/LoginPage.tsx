// The login page: a user's name and password for a session token. Until the user submits,
// the console sends nothing to the controller.

import { Button, Center, Paper, PasswordInput, Stack, Text, TextInput, Title } from '@mantine/core';
import { useMutation } from '@tanstack/react-query';
import { useEffect, useState, type FormEvent } from 'react';
import { api, call, sessionEndReason, startSession } from '../../api/index.ts';
import { ErrorNotice } from '../../ui/index.ts';

export function LoginPage() {
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const ended = sessionEndReason();
  useEffect(() => { document.title = 'Log in · vmbak'; }, []);
  const login = useMutation({
    mutationFn: () => call(api.POST('/api/v1/auth/login', { body: { name, password } })),
    onSuccess: (session) => startSession(session),
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    login.mutate();
  };
  return (
    <Center mih="100vh" component="main" p="md">
      <Paper withBorder shadow="sm" p="xl" w={380}>
        <form onSubmit={submit} aria-labelledby="login-title">
          <Stack>
            <Title order={1} size="h2" id="login-title">vmbak</Title>
            <Text size="sm">Log in to the backup console.</Text>
            {ended && !login.isError && <Text size="sm" role="status">{ended}</Text>}
            {login.isError && <ErrorNotice error={login.error} action="log in" />}
            <TextInput label="User name" name="username" autoComplete="username" required autoFocus
              value={name} onChange={(e) => setName(e.currentTarget.value)} />
            <PasswordInput label="Password" name="password" autoComplete="current-password" required
              value={password} onChange={(e) => setPassword(e.currentTarget.value)} />
            <Button type="submit" loading={login.isPending}>Log in</Button>
          </Stack>
        </form>
      </Paper>
    </Center>
  );
}
