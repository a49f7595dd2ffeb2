// The non-disk state a VM needs to boot, stored with its backup: the UEFI variable store
// (<nvram> file) and the software TPM's state directory (swtpm keeps it per VM UUID). Names
// are stable paths inside the backup: nvram/<file>, tpm/<relative path>.

import { readdir, readFile } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import type { VmStateFile } from '../../core/index.ts';
import type { DomainInfo } from './domain-xml.ts';

export const SWTPM_STATE_ROOT = '/var/lib/libvirt/swtpm';

export async function readStateFiles(domain: DomainInfo, swtpmRoot = SWTPM_STATE_ROOT): Promise<VmStateFile[]> {
  const files: VmStateFile[] = [];
  if (domain.nvramPath) {
    const data = await readFile(domain.nvramPath).catch(missingIsNull);
    if (data) files.push({ name: `nvram/${basename(domain.nvramPath)}`, data });
  }
  const tpmDir = join(swtpmRoot, domain.uuid);
  for (const path of await listFilesRecursive(tpmDir)) {
    const data = await readFile(path).catch(missingIsNull);
    if (data) files.push({ name: `tpm/${relative(tpmDir, path)}`, data });
  }
  return files;
}

async function listFilesRecursive(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(missingIsNull);
  if (!entries) return [];
  const out: string[] = [];
  for (const e of entries) {
    const path = join(dir, e.name);
    if (e.isDirectory()) out.push(...await listFilesRecursive(path));
    else if (e.isFile()) out.push(path);
  }
  return out.sort();
}

function missingIsNull(err: unknown): null {
  if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
  throw err;
}
