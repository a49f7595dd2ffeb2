// Users and API tokens (admins only): who may log in with which role (and a new user, with a
// typed or generated password), and which tokens exist,
// when they were last used and whether they still work. Creating or revoking a token is one API
// call each; a token's secret is shown once, in the answer to its creation.

import { Badge, Button, Stack, Table, Title } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, call } from '../../api/index.ts';
import { useCan } from '../../app/useCan.ts';
import { NewToken } from './NewToken.tsx';
import { NewUser } from './NewUser.tsx';
import { Empty, ErrorNotice, Loading, PageHeader, formatTime } from '../../ui/index.ts';

function RevokeToken({ id, name }: { id: string; name: string }) {
  const queryClient = useQueryClient();
  const revoke = useMutation({
    mutationFn: () => call(api.DELETE('/api/v1/tokens/{id}', { params: { path: { id } } })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ['tokens'] }),
  });
  return (
    <>
      <Button size="xs" color="red" variant="light" loading={revoke.isPending} onClick={() => revoke.mutate()} aria-label={`Revoke token ${name}`}>Revoke</Button>
      {revoke.isError && <ErrorNotice error={revoke.error} action={`revoke token ${name}`} />}
    </>
  );
}

export default function UsersPage() {
  const can = useCan();
  const users = useQuery({ queryKey: ['users'], queryFn: () => call(api.GET('/api/v1/users', { params: { query: { limit: 1000 } } })) });
  const tokens = useQuery({ queryKey: ['tokens'], queryFn: () => call(api.GET('/api/v1/tokens', { params: { query: { limit: 1000 } } })) });
  const mayRevoke = can('DELETE /api/v1/tokens/{id}');
  return (
    <Stack>
      <PageHeader title="Users and tokens" />
      <Title order={2} size="h4">Users</Title>
      {can('POST /api/v1/users') && <NewUser />}
      {users.isPending ? <Loading what="users" /> : users.isError ? <ErrorNotice error={users.error} action="load the users" />
        : users.data.items.length === 0 ? <Empty title="No users">Create one above, or with vmbak user create.</Empty> : (
          <Table.ScrollContainer minWidth={440}>
            <Table striped data-testid="users">
              <Table.Thead><Table.Tr><Table.Th>Name</Table.Th><Table.Th>Role</Table.Th><Table.Th>State</Table.Th><Table.Th>Created</Table.Th></Table.Tr></Table.Thead>
              <Table.Tbody>
                {users.data.items.map((u) => (
                  <Table.Tr key={u.name}>
                    <Table.Td>{u.name}</Table.Td><Table.Td>{u.role}</Table.Td>
                    <Table.Td>{u.disabled ? <Badge color="gray">disabled</Badge> : 'active'}</Table.Td><Table.Td>{formatTime(u.createdMs)}</Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        )}
      <Title order={2} size="h4">API tokens</Title>
      {can('POST /api/v1/tokens') && <NewToken />}
      {tokens.isPending ? <Loading what="tokens" /> : tokens.isError ? <ErrorNotice error={tokens.error} action="load the tokens" />
        : tokens.data.items.length === 0 ? <Empty title="No API tokens">Scripts and agents log in with one: create it above, its secret is shown once.</Empty> : (
          <Table.ScrollContainer minWidth={720}>
            <Table striped data-testid="tokens">
              <Table.Thead><Table.Tr><Table.Th>Name</Table.Th><Table.Th>Role</Table.Th><Table.Th>Created</Table.Th><Table.Th>Last used</Table.Th><Table.Th>Expires</Table.Th><Table.Th>State</Table.Th></Table.Tr></Table.Thead>
              <Table.Tbody>
                {tokens.data.items.map((t) => (
                  <Table.Tr key={t.id}>
                    <Table.Td>{t.name}</Table.Td><Table.Td>{t.role}</Table.Td><Table.Td>{formatTime(t.createdMs)}{t.createdBy ? ` by ${t.createdBy}` : ''}</Table.Td>
                    <Table.Td>{formatTime(t.lastUsedMs)}</Table.Td><Table.Td>{formatTime(t.expiresMs)}</Table.Td>
                    <Table.Td>{t.revokedMs !== null ? `revoked ${formatTime(t.revokedMs)}` : mayRevoke ? <RevokeToken id={t.id} name={t.name} /> : 'active'}</Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        )}
    </Stack>
  );
}
