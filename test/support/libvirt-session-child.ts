// A child process that opens a hot backup session and then waits to be killed: the kill -9
// crash test runs it so the parent can check what sweepStaleRuns() cleans up.
// argv: VM_NAME STATE_DIR SCRATCH_DIR

import { openBackupSession } from '../../src/hypervisors/libvirt/index.ts';

const [vmName, stateDir, scratchDir] = process.argv.slice(2) as [string, string, string];
const session = await openBackupSession(vmName, {
  sinceCheckpoint: null, quiesce: 'off', stateDir, scratchDir,
});
process.stdout.write(`${JSON.stringify({ checkpoint: session.checkpointId, runDir: session.runDir })}\n`);
setInterval(() => undefined, 60_000);
