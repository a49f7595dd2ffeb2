// Adding a repository, tested first: "Test connection" asks the controller whether the
// location with its passphrase opens as a repository (POST /repositories/test); "Add
// repository" is offered once that test passed for exactly what is in the form. A failure is
// the server's one line with its code. Admins only.

import { Alert, Button, Group, PasswordInput, Stack, Text, TextInput, Title } from '@mantine/core';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, call } from '../../api/index.ts';
import { ErrorNotice } from '../../ui/index.ts';

export function ConnectionTest({ mayAdd }: { mayAdd: boolean }) {
  const queryClient = useQueryClient();
  const [name, setName] = useState('');
  const [url, setUrl] = useState('');
  const [passphrase, setPassphrase] = useState('');
  const credentials = passphrase ? { credentials: { passphrase } } : {};
  const test = useMutation({
    mutationFn: (asked: { url: string; passphrase: string }) => call(api.POST('/api/v1/repositories/test', { body: { url: asked.url, ...credentials } })).then((r) => ({ ...r, asked })),
  });
  const add = useMutation({
    mutationFn: () => call(api.POST('/api/v1/repositories', { body: { name, url, ...credentials } })),
    onSuccess: () => Promise.all([queryClient.invalidateQueries({ queryKey: ['repositories'] }), queryClient.invalidateQueries({ queryKey: ['care-schedule'] })]),
  });
  // Saving is offered for what was tested, not for a location typed since.
  const tested = test.data?.ok === true && test.data.asked.url === url && test.data.asked.passphrase === passphrase;
  return (
    <Stack component="section" aria-labelledby="connection-test">
      <Title order={2} size="h4" id="connection-test">{mayAdd ? 'Add a repository' : 'Test a connection'}</Title>
      <form onSubmit={(e) => { e.preventDefault(); if (mayAdd && tested) add.mutate(); else test.mutate({ url, passphrase }); }}>
        <Group align="end" wrap="wrap">
          {mayAdd && <TextInput label="Repository name" value={name} onChange={(e) => setName(e.currentTarget.value)} w={180} />}
          <TextInput label="Location" required placeholder="sftp://backup@host/srv/vmbak" w={{ base: '100%', sm: 360 }} value={url} onChange={(e) => setUrl(e.currentTarget.value)} />
          <PasswordInput label="Passphrase" w={220} value={passphrase} onChange={(e) => setPassphrase(e.currentTarget.value)} />
          <Button variant={tested ? 'default' : 'filled'} loading={test.isPending} onClick={() => { if (url) test.mutate({ url, passphrase }); }}>Test connection</Button>
          {mayAdd && <Button type="submit" disabled={!tested || !name} loading={add.isPending}>Add repository</Button>}
        </Group>
      </form>
      {mayAdd && !tested && <Text size="sm">Test the connection first: a repository is added once it opens with its passphrase. (Create new ones with vmbak repo init.)</Text>}
      {test.isError && <ErrorNotice error={test.error} action="test the connection" />}
      {test.data && (test.data.ok
        ? <Alert color="blue" variant="light" title="Connected" data-testid="connection-result">Repository {test.data.repositoryId} opened with this passphrase.</Alert>
        : <Alert color="red" variant="light" title="Not connected" role="alert" data-testid="connection-result">{test.data.error} ({test.data.code})</Alert>)}
      {add.isError && <ErrorNotice error={add.error} action="add the repository" />}
      {add.isSuccess && <Alert color="blue" variant="light" role="status">Repository {add.data.name} added.</Alert>}
    </Stack>
  );
}
