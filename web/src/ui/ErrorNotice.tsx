// An API failure in plain words: what was being done, the controller's one-line detail and
// the error code (docs/errors.md). Announced to screen readers as an alert.

import { Alert, Code, Text } from '@mantine/core';
import { asApiError } from '../api/index.ts';

export function ErrorNotice({ error, action }: { error: unknown; action: string }) {
  const problem = asApiError(error);
  return (
    <Alert color="red" variant="light" title={`Could not ${action}`} role="alert">
      <Text size="sm">{problem.message} <Code>{problem.code}</Code></Text>
    </Alert>
  );
}
