// "Test connection": whether a location with its passphrase opens as a repository, asked of the
// controller (POST /repositories/test) before anyone saves it. A failure is the server's one line.

import { Alert, Button, Group, PasswordInput, Stack, TextInput, Title } from '@mantine/core';
import { useMutation } from '@tanstack/react-query';
import { useState } from 'react';
import { api, call } from '../../api/index.ts';
import { ErrorNotice } from '../../ui/index.ts';

export function ConnectionTest() {
  const [url, setUrl] = useState('');
  const [passphrase, setPassphrase] = useState('');
  const test = useMutation({
    mutationFn: () => call(api.POST('/api/v1/repositories/test', { body: { url, ...(passphrase ? { credentials: { passphrase } } : {}) } })),
  });
  return (
    <Stack component="section" aria-labelledby="connection-test">
      <Title order={2} size="h4" id="connection-test">Test a connection</Title>
      <form onSubmit={(e) => { e.preventDefault(); test.mutate(); }}>
        <Group align="end" wrap="wrap">
          <TextInput label="Location" required placeholder="sftp://backup@host/srv/vmbak" w={360} value={url} onChange={(e) => setUrl(e.currentTarget.value)} />
          <PasswordInput label="Passphrase" w={220} value={passphrase} onChange={(e) => setPassphrase(e.currentTarget.value)} />
          <Button type="submit" loading={test.isPending}>Test connection</Button>
        </Group>
      </form>
      {test.isError && <ErrorNotice error={test.error} action="test the connection" />}
      {test.data && (test.data.ok
        ? <Alert color="blue" variant="light" title="Connected" data-testid="connection-result">Repository {test.data.repositoryId} opened with this passphrase.</Alert>
        : <Alert color="red" variant="light" title="Not connected" role="alert" data-testid="connection-result">{test.data.error} ({test.data.code})</Alert>)}
    </Stack>
  );
}
