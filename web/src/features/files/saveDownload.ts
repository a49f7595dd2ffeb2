// Hands an API download to the browser as a file. The API wants the session's token, which a
// plain link cannot send: the answer is fetched as a blob, then saved under the name the
// server's Content-Disposition gives (RFC 6266: the UTF-8 name when there is one).

import { call } from '../../api/index.ts';

type BlobAnswer = Promise<{ data?: Blob; error?: unknown; response: Response }>;

function fileNameOf(disposition: string | null, fallback: string): string {
  const utf8 = /filename\*=UTF-8''([^;]+)/i.exec(disposition ?? '')?.[1];
  if (utf8) return decodeURIComponent(utf8);
  return /filename="([^"]+)"/.exec(disposition ?? '')?.[1] ?? fallback;
}

export async function saveDownload(answer: BlobAnswer, fallbackName: string): Promise<void> {
  const blob = await call(answer);
  const name = fileNameOf((await answer).response.headers.get('content-disposition'), fallbackName);
  const url = URL.createObjectURL(blob);
  const a = Object.assign(document.createElement('a'), { href: url, download: name });
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
