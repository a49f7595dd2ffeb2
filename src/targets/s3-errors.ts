// Maps what the AWS SDK throws to vmbak's target errors: 404/NoSuchKey → OBJECT_MISSING,
// NoSuchBucket → BUCKET_MISSING (not a refusal: the location is wrong or the bucket was
// never made; `repo init` makes it), quota exceeded / insufficient storage → TARGET_FULL, 401/403 and bad keys → TARGET_DENIED,
// refused connections, unknown hosts, timeouts and connections reset mid-transfer (the SDK
// names ECONNRESET/EPIPE "TimeoutError") → TARGET_UNREACHABLE, anything else → TARGET_IO,
// which is retryable.

import { VmbakError, describeError } from '../core/index.ts';

const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'TimeoutError']);

export function mapS3Error(target: string, bucket: string, op: string, object: string, err: unknown): VmbakError {
  if (err instanceof VmbakError) return err;
  const e = err as { name?: string; code?: string; Code?: string; $metadata?: { httpStatusCode?: number }; message?: string };
  const status = e.$metadata?.httpStatusCode;
  const code = e.Code ?? e.code ?? e.name ?? '';
  const detail = oneLine(status ? `${code || 'HTTP'} (HTTP ${status})${e.message && e.message !== code && e.message !== 'UnknownError' ? `: ${e.message}` : ''}` : describeError(err));
  if (status === 404 && (code === 'NoSuchKey' || code === 'NotFound')) {
    return new VmbakError('OBJECT_MISSING', { object, target }, { cause: err });
  }
  if (code === 'NoSuchBucket') return new VmbakError('BUCKET_MISSING', { bucket, target }, { cause: err });
  // Before the 403 rule: Ceph radosgw refuses a write past a user or bucket quota with 403 QuotaExceeded.
  if (code === 'QuotaExceeded' || code === 'InsufficientStorage' || status === 507) {
    return new VmbakError('TARGET_FULL', { target, detail }, { cause: err });
  }
  if (status === 401 || status === 403 || code === 'InvalidAccessKeyId' || code === 'SignatureDoesNotMatch' || code === 'CredentialsProviderError') {
    return new VmbakError('TARGET_DENIED', { target, detail }, { cause: err });
  }
  if (UNREACHABLE_CODES.has(code) || UNREACHABLE_CODES.has(e.name ?? '')) {
    return new VmbakError('TARGET_UNREACHABLE', { target, detail }, { cause: err });
  }
  return new VmbakError('TARGET_IO', { target, op, object, detail }, { cause: err });
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}
