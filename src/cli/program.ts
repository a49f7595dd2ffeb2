// The command tree. Each command lives in commands/ and only parses options and prints:
// the work and its decisions are the services' (src/services), shared with the API.

import { Command } from 'commander';
import { packageVersion } from '../core/index.ts';
// Each module is imported only when its command runs: loading every command (the server, the
// catalog, the console's API) cost a backup or restore ~0.35 CPU-s before any work, loading
// one ~0.2. Help and unknown commands load them all, so listings and suggestions stay
// complete; --version needs none. `names` are the top-level commands a module registers, in help order.
type Register = (program: Command) => void;
const COMMAND_MODULES: readonly { readonly names: readonly string[]; readonly load: () => Promise<Register> }[] = [
  { names: ['repo'], load: async () => (await import('./commands/repo.ts')).registerRepoCommands },
  { names: ['key'], load: async () => (await import('./commands/key.ts')).registerKeyCommands },
  { names: ['backup'], load: async () => (await import('./commands/backup.ts')).registerBackupCommand },
  { names: ['restore'], load: async () => (await import('./commands/restore.ts')).registerRestoreCommand },
  { names: ['export'], load: async () => (await import('./commands/export.ts')).registerExportCommand },
  { names: ['files'], load: async () => (await import('./commands/files.ts')).registerFilesCommands },
  { names: ['instant'], load: async () => (await import('./commands/instant.ts')).registerInstantCommands },
  { names: ['index'], load: async () => (await import('./commands/file-index.ts')).registerIndexCommand },
  { names: ['backups'], load: async () => (await import('./commands/backups.ts')).registerBackupsCommands },
  { names: ['verify', 'prune', 'gc', 'check'], load: async () => (await import('./commands/care.ts')).registerCareCommands },
  { names: ['copy'], load: async () => (await import('./commands/copy.ts')).registerCopyCommand },
  { names: ['demo'], load: async () => (await import('./commands/demo.ts')).registerDemoCommand },
  { names: ['vm'], load: async () => (await import('./commands/vm.ts')).registerVmCommands },
  { names: ['jobs'], load: async () => (await import('./commands/jobs.ts')).registerJobsCommands },
  { names: ['serve'], load: async () => (await import('./commands/serve.ts')).registerServeCommand },
  { names: ['agent'], load: async () => (await import('./commands/agent.ts')).registerAgentCommand },
  { names: ['token', 'user'], load: async () => (await import('./commands/access.ts')).registerAccessCommands },
];

/** The command tree for this argv: only the named command's module, or all of them. */
export async function buildProgram(argv: readonly string[] = []): Promise<Command> {
  const wanted = COMMAND_MODULES.filter((m) => m.names.includes(argv[0] ?? ''));
  const versionOnly = argv[0] === '--version' || argv[0] === '-V';
  const modules = versionOnly ? [] : wanted.length > 0 ? wanted : COMMAND_MODULES;
  const registers = await Promise.all(modules.map((m) => m.load()));
  const program = new Command('vmbak')
    .description('agentless, image-level backup for virtual machines')
    .version(packageVersion())
    .exitOverride()
    .showSuggestionAfterError(true)
    .configureOutput({
      writeErr: (s) => process.stderr.write(s.startsWith('error: ') ? `vmbak: ${s.slice(7)}` : s),
    });
  for (const register of registers) register(program);
  for (const cmd of program.commands) inheritSettings(cmd);
  return program;
}

function inheritSettings(cmd: Command): void {
  cmd.exitOverride().configureOutput({
    writeErr: (s) => process.stderr.write(s.startsWith('error: ') ? `vmbak: ${s.slice(7)}` : s),
  });
  for (const sub of cmd.commands) inheritSettings(sub);
}
