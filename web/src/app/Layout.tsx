// The frame around every page: a skip link, the navigation, who is logged in with which role,
// the light/dark switch and logout.

import { ActionIcon, Anchor, AppShell, Badge, Burger, Button, Group, NavLink, Text, useComputedColorScheme, useMantineColorScheme } from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import type { ReactNode } from 'react';
import { Link, useLocation } from 'react-router';
import { api, endSession, type RouteKey } from '../api/index.ts';
import { useCan } from './useCan.ts';
import './app.css';
import { useSession } from './useSession.ts';
import { useTimeZoneChoice } from '../ui/index.ts';

/** `needs`: the route the page reads, so a role that may not read it does not see the link. */
const NAV: { to: string; label: string; needs?: RouteKey }[] = [
  { to: '/', label: 'Dashboard' }, { to: '/vms', label: 'VMs' }, { to: '/jobs', label: 'Jobs' },
  { to: '/policies', label: 'Policies' }, { to: '/repositories', label: 'Repositories' }, { to: '/alerts', label: 'Alerts' },
  { to: '/users', label: 'Users and tokens', needs: 'GET /api/v1/users' }, { to: '/audit', label: 'Audit log', needs: 'GET /api/v1/audit' },
  { to: '/settings', label: 'Settings', needs: 'GET /api/v1/server' },
];

/** Ends the session on the server too; the browser forgets it whatever the server answers. */
async function logOut(): Promise<void> {
  await api.POST('/api/v1/auth/logout').catch(() => undefined);
  endSession();
}

function ThemeSwitch() {
  const { setColorScheme } = useMantineColorScheme();
  const scheme = useComputedColorScheme('light');
  const next = scheme === 'dark' ? 'light' : 'dark';
  return (
    <ActionIcon variant="default" size="lg" onClick={() => setColorScheme(next)} aria-label={`Switch to the ${next} theme`}>
      <span aria-hidden>{scheme === 'dark' ? '☀' : '☾'}</span>
    </ActionIcon>
  );
}

export function Layout({ children }: { children: ReactNode }) {
  const [opened, { toggle, close }] = useDisclosure();
  const session = useSession();
  const { pathname } = useLocation();
  const can = useCan();
  const timeZone = useTimeZoneChoice();
  const active = (to: string) => (to === '/' ? pathname === '/' : pathname.startsWith(to));
  return (
    <AppShell header={{ height: 56 }} navbar={{ width: 200, breakpoint: 'sm', collapsed: { mobile: !opened } }} padding="md">
      <AppShell.Header>
        <Anchor href="#main" className="skip-link">Skip to content</Anchor>
        <Group h="100%" px="md" justify="space-between" wrap="nowrap">
          <Group gap="xs">
            <Burger opened={opened} onClick={toggle} hiddenFrom="sm" size="sm" aria-label="Navigation" />
            <Text fw={700} size="lg" component={Link} to="/">vmbak</Text>
          </Group>
          <Group gap="xs" wrap="nowrap">
            {/* On a phone the name gives way, so the header stays one line; the role stays. */}
            <Text size="sm" data-testid="whoami" visibleFrom="xs">{session?.user.name}</Text>
            <Badge variant="default" data-testid="role">{session?.user.role}</Badge>
            <ThemeSwitch />
            <Button variant="default" size="xs" onClick={() => void logOut()}>Log out</Button>
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs" component="nav" aria-label="Main">
        {NAV.filter((item) => !item.needs || can(item.needs)).map((item) => (
          <NavLink key={item.to} component={Link} to={item.to} label={item.label} active={active(item.to)} variant="filled"
            aria-current={active(item.to) ? 'page' : undefined} onClick={close} />
        ))}
      </AppShell.Navbar>
      {/* Keyed by the time-zone choice: a change re-draws the page, so every time shown follows it. */}
      <AppShell.Main id="main" tabIndex={-1} key={timeZone}>{children}</AppShell.Main>
    </AppShell>
  );
}
