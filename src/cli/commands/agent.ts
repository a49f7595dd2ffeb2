// vmbak agent: the worker on a hypervisor host. It registers with the controller
// (`vmbak serve --redis … --no-local-agent`), cleans up what a killed predecessor left on
// this host, reports the host's VMs, and runs the backups of its VMs — and care jobs — writing
// straight to the targets. JSON-line logs on stdout. SIGTERM or SIGINT: running jobs are
// aborted cleanly (the hypervisor is left clean), then the process exits 0.

import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { VmbakError } from '../../core/index.ts';
import { parseStreams } from './serve.ts';
import { stopOnSignals } from '../service-lifetime.ts';

interface AgentCommandOptions {
  controller: string;
  token?: string;
  tokenFile?: string;
  hostName: string;
  connect?: string;
  streams: number;
  ca?: string;
  insecureHttp?: boolean;
}

export function registerAgentCommand(program: Command): void {
  program.command('agent')
    .description('run the jobs of this hypervisor host for a controller (vmbak serve --redis)')
    .requiredOption('--controller <url>', 'the controller\'s API, e.g. https://controller:8470; several sharing one catalog: comma-separated')
    .option('--token <token>', 'an API token of the agent role (or $VMBAK_AGENT_TOKEN, or --token-file)')
    .option('--token-file <file>', 'a file holding the token')
    .option('--host-name <name>', 'this host\'s name at the controller', hostname())
    .option('--connect <uri>', 'libvirt URI (default: qemu:///system)')
    .option('--streams <n>', 'VM backups at once on this host', parseStreams, 2)
    .option('--ca <file>', 'PEM certificate(s) of the CA that signed the controller\'s certificate (instead of the system\'s)')
    .option('--insecure-http', 'allow http:// to a controller beyond this machine (the token and repository credentials cross the network in clear text)')
    .action(async (opts: AgentCommandOptions) => {
      const token = opts.token ?? (opts.tokenFile ? readOption('--token-file', opts.tokenFile).toString('utf8').trim() : process.env.VMBAK_AGENT_TOKEN);
      if (!token) throw new VmbakError('USAGE', { detail: 'give the agent token: --token, --token-file or $VMBAK_AGENT_TOKEN' });
      const [{ default: pino }, { Agent }] = await Promise.all([import('pino'), import('../../agent/index.ts')]);
      const log = pino({ base: { service: 'vmbak-agent', host: opts.hostName } });
      // VMBAK_AGENT_LOCK_MS shortens how long a dead agent's job waits to be taken up again (tests).
      const lockMs = Number(process.env.VMBAK_AGENT_LOCK_MS) || undefined;
      const tls = { ca: opts.ca ? readOption('--ca', opts.ca) : undefined, allowPlaintext: opts.insecureHttp === true };
      // VMBAK_AGENT_INVENTORY_MS: how often the inventory goes to the controller (tests, fleet runs; default 30 s).
      const inventoryEveryMs = Number(process.env.VMBAK_AGENT_INVENTORY_MS) || undefined;
      const agent = new Agent({ controllerUrl: opts.controller, token, tls, hostName: opts.hostName, connect: opts.connect, streams: opts.streams, log, lockMs, inventoryEveryMs });
      stopOnSignals(log, (signal) => agent.stop(`vmbak agent got ${signal}`));
      await agent.start();
      await new Promise(() => {}); // works until a signal
    });
}

/** A file an option names, or one line saying why it cannot be read. */
function readOption(option: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new VmbakError('USAGE', { detail: `${option} ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}` });
  }
}
