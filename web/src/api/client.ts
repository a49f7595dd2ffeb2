// The typed REST client: openapi-fetch over the generated paths, with the session's token on
// every request. A 401 ends the session (the console returns to the login page); every
// failure becomes an ApiError with the problem's code.

import createClient, { type Middleware } from 'openapi-fetch';
import type { paths } from './schema.gen.ts';
import { ApiError, asApiError, problemFrom } from './problem.ts';
import { currentSession, endSession } from './session.ts';

const auth: Middleware = {
  onRequest({ request }) {
    const session = currentSession();
    if (session) request.headers.set('authorization', `Bearer ${session.token}`);
    return request;
  },
  onResponse({ response, request }) {
    if (response.status === 401 && !request.url.endsWith('/api/v1/auth/login')) endSession('Your session has ended; log in again.');
    return response;
  },
};

export const api = createClient<paths>({ baseUrl: '' });
api.use(auth);

/** The data of an openapi-fetch answer, or the ApiError its problem describes. */
export async function call<T>(pending: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  let answer: Awaited<typeof pending>;
  try {
    answer = await pending;
  } catch (err) {
    throw asApiError(err);
  }
  if (!answer.response.ok) throw problemFrom(answer.response.status, answer.error);
  return answer.data as T;
}

export { ApiError };
