// A new alert channel: a webhook (URL, optional signing secret) or email (SMTP server, sender,
// recipients, optional login). Secrets are write-only on the server. Whether it works is the
// channel's "Send test" in the table, once it is saved.

import { Alert, Button, Group, NumberInput, PasswordInput, SegmentedControl, Select, Stack, TextInput, Title } from '@mantine/core';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState, type ChangeEvent } from 'react';
import { api, call, type AlertChannelCreate } from '../../api/index.ts';
import { ErrorNotice } from '../../ui/index.ts';

type Kind = 'webhook' | 'smtp';
type Security = 'starttls' | 'tls' | 'none';

interface Fields { name: string; url: string; secret: string; host: string; port: number | ''; security: Security; user: string; password: string; from: string; to: string }

function bodyOf(kind: Kind, f: Fields): AlertChannelCreate {
  if (kind === 'webhook') return { type: 'webhook', name: f.name, url: f.url, ...(f.secret ? { secret: f.secret } : {}) };
  return {
    type: 'smtp', name: f.name, host: f.host, security: f.security, from: f.from,
    to: f.to.split(/[\s,;]+/).filter(Boolean), ...(f.port !== '' ? { port: f.port } : {}),
    ...(f.user ? { user: f.user } : {}), ...(f.password ? { password: f.password } : {}),
  };
}

export function NewChannel() {
  const queryClient = useQueryClient();
  const [kind, setKind] = useState<Kind>('webhook');
  const [f, setF] = useState<Fields>({ name: '', url: '', secret: '', host: '', port: '', security: 'starttls', user: '', password: '', from: '', to: '' });
  const text = (key: keyof Fields) => ({ value: String(f[key]), onChange: (e: ChangeEvent<HTMLInputElement>) => { const v = e.currentTarget.value; setF((o) => ({ ...o, [key]: v })); } });
  const create = useMutation({
    mutationFn: () => call(api.POST('/api/v1/alerts/channels', { body: bodyOf(kind, f) })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ['alerts', 'channels'] }),
  });
  return (
    <Stack component="section" aria-labelledby="new-channel" gap="xs">
      <Title order={3} size="h5" id="new-channel">New channel</Title>
      <form onSubmit={(e) => { e.preventDefault(); create.mutate(); }}>
        <Stack gap="xs">
          <SegmentedControl value={kind} onChange={(v) => setKind(v as Kind)} aria-label="Channel type" w="fit-content"
            data={[{ value: 'webhook', label: 'Webhook' }, { value: 'smtp', label: 'Email (SMTP)' }]} />
          <Group align="end" wrap="wrap">
            <TextInput label="Channel name" required {...text('name')} />
            {kind === 'webhook' ? (
              <>
                <TextInput label="Webhook URL" required placeholder="https://chat.example/hooks/…" w={{ base: '100%', sm: 360 }} {...text('url')} />
                <PasswordInput label="Signing secret (optional)" w={220} autoComplete="off" {...text('secret')} />
              </>
            ) : (
              <>
                <TextInput label="SMTP server" required placeholder="smtp.example.com" {...text('host')} />
                <NumberInput label="Port" placeholder="587" min={1} max={65535} w={100} value={f.port} onChange={(v) => setF((o) => ({ ...o, port: typeof v === 'number' ? v : '' }))} />
                <Select label="Security" w={130} allowDeselect={false} value={f.security} onChange={(v) => setF((o) => ({ ...o, security: (v ?? 'starttls') as Security }))}
                  data={[{ value: 'starttls', label: 'STARTTLS' }, { value: 'tls', label: 'TLS' }, { value: 'none', label: 'none' }]} />
                <TextInput label="From" required type="email" placeholder="vmbak@example.com" {...text('from')} />
                <TextInput label="To" required placeholder="ops@example.com, oncall@example.com" w={{ base: '100%', sm: 300 }} {...text('to')} />
                <TextInput label="SMTP user (optional)" autoComplete="off" {...text('user')} />
                <PasswordInput label="SMTP password (optional)" autoComplete="off" w={200} {...text('password')} />
              </>
            )}
            <Button type="submit" loading={create.isPending}>Add channel</Button>
          </Group>
        </Stack>
      </form>
      {create.isError && <ErrorNotice error={create.error} action="add the channel" />}
      {create.isSuccess && <Alert color="blue" variant="light" role="status">Channel {create.data.name} added: send it a test from the table.</Alert>}
    </Stack>
  );
}
