// The command tree. Each command lives in commands/ and only parses options and prints:
// the work and its decisions are the services' (src/services), shared with the API.

import { Command } from 'commander';
import { registerRepoCommands } from './commands/repo.ts';
import { registerKeyCommands } from './commands/key.ts';
import { registerBackupCommand } from './commands/backup.ts';
import { registerRestoreCommand } from './commands/restore.ts';
import { registerBackupsCommands } from './commands/backups.ts';
import { registerCareCommands } from './commands/care.ts';
import { registerDemoCommand } from './commands/demo.ts';
import { registerCopyCommand } from './commands/copy.ts';
import { registerVmCommands } from './commands/vm.ts';
import { registerJobsCommands } from './commands/jobs.ts';
import { registerExportCommand } from './commands/export.ts';
import { registerServeCommand } from './commands/serve.ts';
import { registerAgentCommand } from './commands/agent.ts';
import { registerAccessCommands } from './commands/access.ts';
import { registerFilesCommands } from './commands/files.ts';
import { registerInstantCommands } from './commands/instant.ts';
import { registerIndexCommand } from './commands/file-index.ts';

export function buildProgram(): Command {
  const program = new Command('vmbak')
    .description('agentless, image-level backup for virtual machines')
    .version('0.1.0')
    .exitOverride()
    .showSuggestionAfterError(true)
    .configureOutput({
      writeErr: (s) => process.stderr.write(s.startsWith('error: ') ? `vmbak: ${s.slice(7)}` : s),
    });
  registerRepoCommands(program);
  registerKeyCommands(program);
  registerBackupCommand(program);
  registerRestoreCommand(program);
  registerExportCommand(program);
  registerFilesCommands(program);
  registerInstantCommands(program);
  registerIndexCommand(program);
  registerBackupsCommands(program);
  registerCareCommands(program);
  registerCopyCommand(program);
  registerDemoCommand(program);
  registerVmCommands(program);
  registerJobsCommands(program);
  registerServeCommand(program);
  registerAgentCommand(program);
  registerAccessCommands(program);
  for (const cmd of program.commands) inheritSettings(cmd);
  return program;
}

function inheritSettings(cmd: Command): void {
  cmd.exitOverride().configureOutput({
    writeErr: (s) => process.stderr.write(s.startsWith('error: ') ? `vmbak: ${s.slice(7)}` : s),
  });
  for (const sub of cmd.commands) inheritSettings(sub);
}
