// The `vmbak` command's entry point: checks the runtime, runs the command, and turns every
// failure into one line `vmbak: <message>` and the exit code the error registry assigns.

import { VmbakError, describeError } from '../core/index.ts';
import { buildProgram } from './program.ts';

async function main(argv: string[]): Promise<number> {
  const major = Number(process.versions.node.split('.')[0]);
  if (major < 24) throw new VmbakError('NODE_TOO_OLD', { version: process.version });
  const program = await buildProgram(argv);
  await program.parseAsync(argv, { from: 'user' });
  return process.exitCode === undefined ? 0 : Number(process.exitCode);
}

// A reader that went away (`vmbak … | head`) is not an error worth a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => { if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0); throw err; });
}

// Once the command has finished, nothing may keep the process alive (a worker or socket left
// open by a failure path): give output a moment to drain, then exit.
const exitSoon = (): void => { setTimeout(() => process.exit(), 2000).unref(); };

main(process.argv.slice(2)).finally(exitSoon).then(
  (code) => { process.exitCode = code; },
  (err: unknown) => {
    if (err instanceof VmbakError) {
      process.stderr.write(`vmbak: ${err.message}\n`);
      process.exitCode = err.exitCode;
    } else if (isCommanderExit(err)) {
      process.exitCode = err.exitCode === 0 ? 0 : 2;
    } else {
      process.stderr.write(`vmbak: internal error: ${describeError(err)}\n`);
      if (process.env.VMBAK_DEBUG) process.stderr.write(`${(err as Error)?.stack}\n`);
      process.exitCode = 1;
    }
  },
);

function isCommanderExit(err: unknown): err is { exitCode: number; code: string } {
  return typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'string'
    && (err as { code: string }).code.startsWith('commander.');
}
