// vmbak token create | ls | revoke and vmbak user create: who may use the controller's API,
// written straight into the controller's catalog (DATA_DIR/catalog.sqlite), so they work
// whether or not `vmbak serve` runs — a running server reads tokens from the catalog on each
// request and accepts a new one at once. A token is printed once, alone on the last line of
// stdout (`TOKEN=$(vmbak token create … | tail -n1)`); the catalog keeps only its hash.

import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import type { Command } from 'commander';
import {
  MIN_PASSWORD_CHARS, NAME_PATTERN, ROLES, createApiToken, createUser, dataDirPaths, listApiTokens, openCatalog, recordAudit, revokeApiToken,
  type OpenCatalog, type Role,
} from '../../catalog/index.ts';
import { VmbakError, describeError, parseDuration } from '../../core/index.ts';
import { promptHidden } from '../passphrase.ts';

interface CatalogOptions { dataDir: string; catalog?: string }
interface TokenCreateOptions extends CatalogOptions { role: string; name: string; expiresIn?: string }
interface TokenLsOptions extends CatalogOptions { json?: boolean }
interface UserCreateOptions extends CatalogOptions { role: string; name: string; passwordFile?: string }

const DEFAULT_DATA_DIR = '/var/lib/vmbak';

function withCatalogOptions(cmd: Command): Command {
  return cmd
    .option('--data-dir <dir>', 'the controller\'s data dir (default: $VMBAK_DATA_DIR or /var/lib/vmbak)', process.env.VMBAK_DATA_DIR ?? DEFAULT_DATA_DIR)
    .option('--catalog <location>', 'the catalog, when not DATA_DIR/catalog.sqlite');
}

/** Opens the controller's catalog, saying so on stderr when there was none yet (the first user before the first `serve`). */
async function openControllerCatalog(opts: CatalogOptions): Promise<OpenCatalog> {
  const location = opts.catalog ?? dataDirPaths(opts.dataDir).catalog;
  const fresh = !existsSync(location);
  const catalog = await openCatalog(location);
  if (fresh) process.stderr.write(`vmbak: created a new catalog at ${location}\n`);
  return catalog;
}

async function withCatalog<T>(opts: CatalogOptions, fn: (catalog: OpenCatalog, actor: string) => Promise<T>): Promise<T> {
  const catalog = await openControllerCatalog(opts);
  try {
    return await fn(catalog, `cli:${userInfo().username}`);
  } finally {
    await catalog.close();
  }
}

function checkNameAndRole(opts: { name: string; role: string }): Role {
  if (!NAME_PATTERN.test(opts.name)) throw new VmbakError('USAGE', { detail: `--name ${opts.name}: use letters, digits, ".", "_" and "-", starting with a letter or digit` });
  if (!(ROLES as readonly string[]).includes(opts.role)) throw new VmbakError('USAGE', { detail: `--role ${opts.role}: give one of ${ROLES.join(', ')}` });
  return opts.role as Role;
}

export function registerAccessCommands(program: Command): void {
  const token = program.command('token').description('API tokens of the controller (its catalog, server running or not)');
  withCatalogOptions(token.command('create'))
    .description('create an API token and print it, once, on the last line')
    .requiredOption('--name <name>', 'what the token is for (unique)')
    .requiredOption('--role <role>', `${ROLES.join(', ')}`)
    .option('--expires-in <duration>', 'such as 90d or 12h (default: never)')
    .action((opts: TokenCreateOptions) => {
      const role = checkNameAndRole(opts);
      const lifetimeMs = opts.expiresIn === undefined ? null : parseDuration(opts.expiresIn);
      if (lifetimeMs !== null && !(lifetimeMs > 0)) throw new VmbakError('USAGE', { detail: `--expires-in ${opts.expiresIn}: give a duration such as 90d or 12h` });
      return withCatalog(opts, async (catalog, actor) => {
        const expiresMs = lifetimeMs === null ? null : catalog.clock.nowMs() + lifetimeMs;
        const made = await createApiToken(catalog, { name: opts.name, role, expiresMs, createdBy: actor });
        await recordAudit(catalog, actor, 'token.create', opts.name, { role, expiresMs });
        const until = expiresMs === null ? 'does not expire' : `expires ${new Date(expiresMs).toISOString()}`;
        process.stdout.write(`token ${opts.name} (role ${role}, ${until}); it is shown only now:\n${made.token}\n`);
      });
    });
  withCatalogOptions(token.command('ls'))
    .description('list API tokens (never their secrets)')
    .option('--json', 'print one JSON array of token records')
    .action((opts: TokenLsOptions) => withCatalog(opts, async (catalog) => {
      const tokens = (await listApiTokens(catalog)).filter((t) => !t.name.startsWith('session:'));
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(tokens)}\n`);
        return;
      }
      process.stdout.write(`${'ID'.padEnd(14)}${'NAME'.padEnd(24)}${'ROLE'.padEnd(10)}STATE\n`);
      const nowMs = catalog.clock.nowMs();
      for (const t of tokens) {
        const state = t.revokedMs !== null ? 'revoked' : t.expiresMs !== null && t.expiresMs <= nowMs ? 'expired' : 'active';
        process.stdout.write(`${t.id.padEnd(14)}${t.name.padEnd(24)}${t.role.padEnd(10)}${state}\n`);
      }
    }));
  withCatalogOptions(token.command('revoke'))
    .description('revoke a token; a running server refuses it from the next request on')
    .argument('<id>', 'token id from vmbak token ls')
    .action((id: string, opts: CatalogOptions) => withCatalog(opts, async (catalog, actor) => {
      if (!await revokeApiToken(catalog, id)) throw new VmbakError('CATALOG_NOT_FOUND', { what: 'active token', name: id });
      await recordAudit(catalog, actor, 'token.revoke', id);
      process.stdout.write(`token ${id} revoked\n`);
    }));

  const user = program.command('user').description('console users of the controller (its catalog, server running or not)');
  withCatalogOptions(user.command('create'))
    .description('create a user who logs in to the console with a password')
    .requiredOption('--name <name>', 'the user name')
    .requiredOption('--role <role>', `${ROLES.join(', ')}`)
    .option('--password-file <file>', 'read the password from a file (default: a prompt on a terminal)')
    .action(async (opts: UserCreateOptions) => {
      const role = checkNameAndRole(opts);
      const password = await obtainPassword(opts.passwordFile);
      await withCatalog(opts, async (catalog, actor) => {
        const record = await createUser(catalog, opts.name, role, password);
        await recordAudit(catalog, actor, 'user.create', record.name, { role });
        process.stdout.write(`user ${record.name} (role ${record.role}) created\n`);
      });
    });
}

async function obtainPassword(file: string | undefined): Promise<string> {
  let password: string;
  if (file !== undefined) {
    try {
      password = (await readFile(file, 'utf8')).replace(/\r?\n$/, '');
    } catch (err) {
      throw new VmbakError('USAGE', { detail: `cannot read password file ${file}: ${describeError(err)}` });
    }
  } else if (process.stdin.isTTY) {
    password = await promptHidden('Password: ');
    if (password !== await promptHidden('Repeat password: ')) throw new VmbakError('USAGE', { detail: 'the two passwords differ' });
  } else {
    throw new VmbakError('USAGE', { detail: 'no password: pass --password-file, or run on a terminal to be asked' });
  }
  if (password.length < MIN_PASSWORD_CHARS) throw new VmbakError('USAGE', { detail: `the password has ${password.length} characters; give at least ${MIN_PASSWORD_CHARS}` });
  return password;
}
