// One query client: API problems of the 4xx kind are not retried (asking again gets the same
// answer), other failures once.

import { QueryClient } from '@tanstack/react-query';
import { ApiError } from '../api/index.ts';

export const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      staleTime: 5_000,
      refetchOnWindowFocus: true,
      retry: (count, err) => !(err instanceof ApiError && err.status >= 400 && err.status < 500) && count < 1,
    },
    mutations: { retry: false },
  },
});
