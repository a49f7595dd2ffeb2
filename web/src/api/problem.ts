// API failures as one error type carrying the problem's code (docs/errors.md) and its one-line
// detail, so every page can say in plain words what went wrong and which code to look up.

export interface Problem {
  readonly code: string;
  readonly detail: string;
  readonly status: number;
  readonly field?: string;
}

export class ApiError extends Error {
  readonly code: string;
  readonly status: number;
  readonly field: string | undefined;
  constructor(problem: Problem) {
    super(problem.detail);
    this.name = 'ApiError';
    this.code = problem.code;
    this.status = problem.status;
    this.field = problem.field;
  }
}

/** The problem in a failed answer's body, or one made from its status when the body is not a problem. */
export function problemFrom(status: number, body: unknown): ApiError {
  const p = body as Partial<Problem> | null;
  if (p && typeof p.code === 'string' && typeof p.detail === 'string') {
    return new ApiError({ code: p.code, detail: p.detail, status, ...(typeof p.field === 'string' ? { field: p.field } : {}) });
  }
  return new ApiError({ code: `HTTP_${status}`, detail: `the controller answered ${status}`, status });
}

/** Any thrown value as a problem: a fetch that never reached the controller becomes NETWORK. */
export function asApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof Error && err.name === 'AbortError') return new ApiError({ code: 'ABORTED', detail: 'the request was cancelled', status: 0 });
  return new ApiError({ code: 'NETWORK', detail: 'the controller did not answer; is vmbak serve running?', status: 0 });
}
