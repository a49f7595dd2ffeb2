// The console's root: theme, data cache and router. Without a session only the login page
// renders — it makes no request and opens no stream until the user logs in.

import { MantineProvider, localStorageColorSchemeManager } from '@mantine/core';
import { QueryClientProvider } from '@tanstack/react-query';
import { useEffect } from 'react';
import { BrowserRouter } from 'react-router';
import { LoginPage } from '../features/auth/LoginPage.tsx';
import { AppRoutes } from './AppRoutes.tsx';
import { queryClient } from './queryClient.ts';
import { cssVariablesResolver, theme } from './theme.ts';
import { useSession } from './useSession.ts';

const colorSchemeManager = localStorageColorSchemeManager({ key: 'vmbak.color-scheme' });

export function App() {
  const session = useSession();
  // Another user's cached answers must not show after a logout and a new login.
  useEffect(() => { if (!session) queryClient.clear(); }, [session]);
  return (
    <MantineProvider theme={theme} cssVariablesResolver={cssVariablesResolver} colorSchemeManager={colorSchemeManager} defaultColorScheme="auto">
      <QueryClientProvider client={queryClient}>
        <BrowserRouter>
          {session ? <AppRoutes /> : <LoginPage />}
        </BrowserRouter>
      </QueryClientProvider>
    </MantineProvider>
  );
}
