// vmbak backup: one VM from image files (--image, --domain-xml) into a repository.

import type { Command } from 'commander';
import { VmbakError, type BackupSession } from '../../core/index.ts';
import { WorkerPool, backupVm, newProgress } from '../../engine/index.ts';
import { imagesFromDomainXml, openImageSession, type ImageSpec } from '../../hypervisors/index.ts';
import { abortOnSignals, openRepository, type RepoOptions, withRepoOptions } from '../context.ts';
import { startProgressBar } from '../progress-bar.ts';
import { backupJson, backupSummary } from '../report.ts';

interface BackupOptions extends RepoOptions {
  image: string[];
  vm?: string;
  domainXml?: string;
  json?: boolean;
  progress: boolean;
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

export function registerBackupCommand(program: Command): void {
  withRepoOptions(program.command('backup'))
    .description('back up a VM: its image files (--image, --domain-xml)')
    .option('--image <file>', 'a disk image file of the VM (repeat for each disk)', collect, [])
    .option('--vm <name>', 'the VM the images belong to (default: the first image\'s name)')
    .option('--domain-xml <file>', 'a libvirt domain XML: back up its disks and store the XML (powered-off VMs, templates)')
    .option('--json', 'print one JSON line per VM (see docs/cli.md)')
    .option('--no-progress', 'no progress bar')
    .action(async (opts: BackupOptions) => {
      if (opts.image.length === 0 && !opts.domainXml) throw new VmbakError('USAGE', { detail: 'backup needs --image FILE (repeatable) or --domain-xml FILE' });
      const repo = await openRepository(opts);
      const signal = abortOnSignals();
      const { session, vmName, vmUuid, source } = await openSession(opts);
      const pool = new WorkerPool(repo.keys ? repo.masterSecret : null, repo.config.compression.level);
      const progress = newProgress(Date.now());
      const stopBar = startProgressBar(progress, vmName, opts.progress && !opts.json);
      try {
        const manifest = await backupVm({ repo, vm: { key: vmUuid ?? vmName, name: vmName, uuid: vmUuid }, source, session, pool, signal, progress })
          .catch(async (err: unknown) => { stopBar(); await session.abort(); throw err; });
        stopBar();
        await session.finish();
        process.stdout.write(opts.json ? `${JSON.stringify(backupJson(manifest, repo.displayUrl, []))}\n` : backupSummary(manifest, repo.displayUrl));
      } finally {
        await pool.close();
        await repo.target.close();
      }
    });
}

async function openSession(opts: BackupOptions): Promise<{ session: BackupSession; vmName: string; vmUuid: string | null; source: 'image' | 'domain-xml' }> {
  if (opts.domainXml) {
    const dom = await imagesFromDomainXml(opts.domainXml);
    const images: ImageSpec[] = [...dom.images, ...opts.image.map((path) => ({ path }))];
    const vmName = opts.vm ?? dom.name;
    const session = await openImageSession(images, { vmName, domainXml: dom.xml, skipped: dom.skipped });
    return { session, vmName, vmUuid: dom.uuid, source: 'domain-xml' };
  }
  const first = opts.image[0]!;
  const vmName = opts.vm ?? first.replace(/^.*\//, '').replace(/\.[^.]*$/, '');
  const session = await openImageSession(opts.image.map((path) => ({ path })), { vmName });
  return { session, vmName, vmUuid: null, source: 'image' };
}
