// The one registry behind every message vmbak prints for a failure. Each entry has a stable
// code, a message template ({name} placeholders), the process exit code, the HTTP status the
// API will answer with, and whether retrying the same operation may succeed. docs/errors.md
// lists every code; a test keeps the two in step.

export interface ErrorSpec {
  readonly message: string;
  readonly exitCode: number;
  readonly httpStatus: number;
  readonly retryable: boolean;
}

const spec = (message: string, exitCode = 1, httpStatus = 500, retryable = false): ErrorSpec =>
  ({ message, exitCode, httpStatus, retryable });

export const errorRegistry = {
  USAGE: spec('{detail}', 2, 400),
  CONFIG_INVALID: spec('invalid configuration: {detail}', 2, 400),
  NODE_TOO_OLD: spec('vmbak needs Node.js 24 or newer, this is {version}', 1, 500),
  PASSPHRASE_MISSING: spec('no passphrase: set VMBAK_PASSPHRASE, pass --passphrase-file, or run on a terminal', 2, 400),
  PASSPHRASE_FILE_UNREADABLE: spec('cannot read passphrase file {path}: {reason}', 2, 400),
  PASSPHRASE_EMPTY: spec('the passphrase is empty', 2, 400),
  PASSPHRASE_MISMATCH: spec('the two passphrases differ', 2, 400),
  WRONG_PASSPHRASE: spec('wrong passphrase for repository {repo}', 1, 401),
  REPO_NOT_FOUND: spec('no vmbak repository at {repo}', 1, 404),
  REPO_EXISTS: spec('a repository already exists at {repo}', 1, 409),
  REPO_VERSION_UNKNOWN: spec('repository {repo} has format version {version}, this vmbak reads {supported}', 1, 500),
  REPO_CONFIG_CORRUPT: spec('repository {repo} has a damaged config: {detail}', 1, 500),
  REPO_ENCRYPTED_NEEDS_KEY: spec('repository {repo} is encrypted; a passphrase is needed', 2, 400),
  REPO_NOT_ENCRYPTED: spec('repository {repo} is not encrypted and has no key', 1, 400),
  REPO_LOCKED: spec('{what} in {repo} is locked by {owner}', 1, 409, true),
  LEASE_LOST: spec('lost the lock on {what} in {repo} ({detail}); stopped before recording anything more', 1, 409, true),
  LOCK_CORRUPT: spec('lock object {object} in {repo} is damaged ({detail}); remove it once no vmbak process uses the repository', 1, 500),
  BACKUP_NOT_FOUND: spec('no backup {backupId} in {repo}', 1, 404),
  BACKUP_ID_AMBIGUOUS: spec('backup id {backupId} is ambiguous in {repo}: {matches}', 2, 400),
  MANIFEST_CORRUPT: spec('manifest of backup {backupId} in {repo} is damaged: {detail}', 1, 500),
  INDEX_CORRUPT: spec('index of disk {disk} in backup {backupId} is damaged: {detail}', 1, 500),
  CHUNK_MISSING: spec('chunk {chunkId} of backup {backupId}, disk {disk} at offset {offset} is missing from {repo}', 1, 500),
  CHUNK_CORRUPT: spec('chunk {chunkId} of backup {backupId}, disk {disk} at offset {offset} is damaged: {detail}', 1, 500),
  PACK_CORRUPT: spec('pack {packId} in {repo} is damaged: {detail}', 1, 500),
  DISK_NOT_IN_BACKUP: spec('backup {backupId} has no disk {disk} (it has: {disks})', 2, 404),
  DIGEST_MISMATCH: spec('restored disk {disk} of backup {backupId} does not match the digest in its manifest', 1, 500),
  NOT_A_DISK_IMAGE: spec('{path} is not a disk image QEMU can read: {detail}', 1, 400),
  IMAGE_NOT_FOUND: spec('disk image {path} does not exist', 1, 404),
  IMAGE_READ: spec('cannot read disk image {path} at offset {offset}: {detail}', 1, 500),
  DOMAIN_XML_INVALID: spec('domain XML {path} is not usable: {detail}', 2, 400),
  DISK_NAME_CLASH: spec('two disks of VM {vm} would both be named {disk}', 2, 400),
  NBD_PROTOCOL: spec('NBD server {server} broke the protocol: {detail}', 1, 502, true),
  NBD_ERROR: spec('NBD server {server} failed {op} at offset {offset}: {detail}', 1, 502, true),
  NBD_CONNECT: spec('cannot connect to NBD server {server}: {detail}', 1, 502, true),
  NBD_LISTEN_FAILED: spec('cannot serve NBD on {address}: {detail}', 1, 500),
  QEMU_NBD_FAILED: spec('qemu-nbd could not serve {path}: {detail}', 1, 500),
  TOOL_MISSING: spec('{tool} is not installed ({hint})', 1, 500),
  TARGET_FULL: spec('target {target} is full: {detail}', 1, 507, true),
  TARGET_DENIED: spec('target {target} refused access: {detail}', 1, 403),
  TARGET_UNREACHABLE: spec('target {target} is unreachable: {detail}', 1, 502, true),
  TARGET_IO: spec('target {target} failed {op} {object}: {detail}', 1, 502, true),
  OBJECT_MISSING: spec('object {object} is missing on target {target}', 1, 404),
  BUCKET_MISSING: spec('bucket {bucket} does not exist on {target}', 1, 404),
  TARGET_URL_INVALID: spec('cannot use {url} as a repository: {detail}', 2, 400),
  OUTPUT_EXISTS: spec('{path} already exists; remove it or restore elsewhere', 1, 409),
  OUTPUT_IO: spec('cannot write {path}: {detail}', 1, 500),
  ABORTED: spec('aborted by {signal}; nothing was recorded', 130, 499),
  VERIFY_FAILED: spec('verification found {count} problem(s) in {repo}', 1, 500),
  CHECK_FAILED: spec('check found {count} problem(s) in {repo}', 1, 500),
  COMPLETED_WITH_WARNINGS: spec('completed with warnings: {detail}', 3, 207),
  VM_NOT_FOUND: spec('no VM matches {pattern} on {uri}', 1, 404),
  VM_EXISTS: spec('a VM named {vm} already exists on {uri}', 1, 409),
  VM_NOT_SHUT_OFF: spec('VM {vm} must be shut off to {op} (it is {state})', 1, 409),
  LIBVIRT_FAILED: spec('libvirt {op} failed for {vm}: {detail}', 1, 502, true),
  DISK_UNSUPPORTED: spec('disk {disk} of VM {vm} cannot be backed up: {detail} (exclude it with --exclude-disk {disk})', 1, 400),
  QUIESCE_FAILED: spec('cannot quiesce VM {vm}: {detail}', 1, 502, true),
  HOOK_FAILED: spec('{hook} hook for VM {vm} failed: {detail}', 1, 500),
  SCRATCH_SPACE_LOW: spec('scratch directory {dir} has {freeBytes} free, the backup of {vm} needs {needBytes}', 1, 507, true),
  JOB_NOT_FOUND: spec('no job {jobId} on this host (see vmbak jobs ls)', 1, 404),
  JOB_NOT_RUNNING: spec('job {jobId} cannot be {op}: {detail}', 1, 409),
  PAUSE_TOO_LONG: spec('backup was paused for longer than {limit} and was aborted; nothing was recorded', 1, 408),
  CONFIRMATION_NEEDED: spec('{what} needs confirmation: pass --yes (no terminal to ask on)', 2, 400),
  CONFIRMATION_MISMATCH: spec('{what} overwrites VM {vm}: confirm with its name exactly (got "{given}")', 2, 400),
  FILESYSTEM_NOT_FOUND: spec('no filesystem {fs} in backup {backupId} (it has: {found})', 1, 404),
  FILESYSTEM_UNSUPPORTED: spec('filesystem {fs} of backup {backupId} cannot be browsed: {detail}', 1, 422),
  GUEST_OS_NOT_UNIQUE: spec('a bare path needs one guest OS, but backup {backupId} {detail}: give FILESYSTEM:/path with one of: {found}', 2, 422),
  FILE_NOT_FOUND: spec('no {path} in filesystem {fs} of backup {backupId}', 1, 404),
  FILE_BROWSER_FAILED: spec('file browser (libguestfs) failed: {detail}', 1, 500, true),
  FILE_BROWSER_BUSY: spec('all {count} file browsing sessions are in use; try again shortly', 1, 503, true),
  FILE_INDEX_MISSING: spec('backup {backupId} in {repo} has no file index: run vmbak index {backupId}', 1, 404),
  FILE_INDEX_CORRUPT: spec('file index of backup {backupId} in {repo} is damaged: {detail}', 1, 500),
  FILE_INDEX_LIMIT: spec('filesystem {fs} of backup {backupId} is past the file index limit: {detail}', 1, 422),
  INTERNAL: spec('internal error: {detail}', 1, 500),
  CATALOG_OPEN_FAILED: spec('cannot open the catalog {location}: {detail}', 1, 500),
  CATALOG_SCHEMA_NEWER: spec('the catalog {location} has schema {version}, newer than this vmbak knows ({known}): upgrade vmbak', 1, 500),
  CATALOG_MIGRATION_FAILED: spec('cannot bring the catalog {location} to the current schema: {detail}', 1, 500),
  CATALOG_NOT_FOUND: spec('no {what} {name} in the catalog', 1, 404),
  CATALOG_CONFLICT: spec('{what} {name} {detail}', 1, 409),
  SECRETS_KEY_INVALID: spec('secrets key file {path} cannot be used: {detail}', 1, 500),
  SECRET_UNREADABLE: spec('cannot decrypt {what}: {detail}', 1, 500),
  ALERT_UNDELIVERED: spec('alert to channel {channel} was not delivered: {detail}', 1, 502, true),
  AUTH_REQUIRED: spec('authentication required: {detail}', 1, 401),
  ACCESS_DENIED: spec('the {role} role may not {method} {path} (it needs {needs})', 1, 403),
  LOGIN_FAILED: spec('wrong user name or password', 1, 401),
  LOGIN_RATE_LIMITED: spec('too many failed logins for {who}; try again in {seconds} s', 1, 429, true),
  NO_ROUTE: spec('no API route {method} {path}', 1, 404),
  INVALID_REQUEST: spec('invalid request: {field}: {detail}', 2, 400),
  MANAGED_BY_CONFIG: spec('{what} {name} is managed by the config file and read-only through the API; change it in the file', 1, 409),
  NOT_READY: spec('the controller is not ready yet: {detail}', 1, 503, true),
  CONTROLLER_UNREACHABLE: spec('cannot reach the controller at {url}: {detail}', 1, 502, true),
  CONTROLLER_REFUSED: spec('the controller at {url} refused {method} {path}: {detail}', 1, 502),
  STORAGE_POOL_UNUSABLE: spec('storage pool {pool} on host {host} cannot take restored disks: {detail}', 2, 400),
  CONTROLLER_INSECURE: spec('the controller at {url} is beyond this machine without TLS: the agent\'s token and repository credentials would cross the network in clear text; use https:// (--ca FILE for a private CA) or --insecure-http on a network you trust', 2, 400),
  SCRATCH_HIDDEN_FROM_QEMU: spec('QEMU of VM {vm} sees another filesystem at scratch directory {dir} than vmbak (mounted after the VM started? QEMU keeps the mounts it started with): use another --scratch-dir or restart the VM', 1, 409),
  INSTANT_NOT_FOUND: spec('no instant-recovery VM {vm} on this host (see vmbak instant ls)', 1, 404),
  INSTANT_EXISTS: spec('VM {vm} is already an instant-recovery VM on this host (see vmbak instant ls)', 1, 409),
  INSTANT_SERVER_FAILED: spec('the export serving instant-recovery VM {vm} {detail} (log: {log})', 1, 502, true),
  INSTANT_MIGRATE_FAILED: spec('cannot move instant-recovery VM {vm} to local storage: {detail}', 1, 502, true),
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof errorRegistry;
export type ErrorParams = Record<string, string | number | bigint>;

export class VmbakError extends Error {
  readonly code: ErrorCode;
  readonly params: ErrorParams;
  constructor(code: ErrorCode, params: ErrorParams = {}, options?: { cause?: unknown }) {
    super(formatMessage(errorRegistry[code].message, params), options);
    this.name = 'VmbakError';
    this.code = code;
    this.params = params;
  }
  get exitCode(): number { return errorRegistry[this.code].exitCode; }
  get retryable(): boolean { return errorRegistry[this.code].retryable; }
  get httpStatus(): number { return errorRegistry[this.code].httpStatus; }
}

export function formatMessage(template: string, params: ErrorParams): string {
  return template.replace(/\{(\w+)\}/g, (whole, key: string) =>
    key in params ? String(params[key]) : whole);
}

export function isVmbakError(err: unknown, code?: ErrorCode): err is VmbakError {
  return err instanceof VmbakError && (code === undefined || err.code === code);
}

/** A short, single-line description of any thrown value, for wrapping foreign errors. */
export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    const msg = err.message.split('\n')[0] ?? '';
    return code && !msg.includes(code) ? `${code}: ${msg}` : msg;
  }
  return String(err);
}
