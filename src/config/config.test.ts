import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isVmbakError } from '../core/index.ts';
import {
  getPolicy, listAlertChannels, listAlertRules, listPolicies, listRepositories, readAlertChannelSecret,
  readRepositoryCredentials, SecretsBox, upsertPolicy,
} from '../catalog/index.ts';
import { tempCatalog, tempDir } from '../catalog/catalog-test-support.ts';
import { applyConfig } from './apply-config.ts';
import { loadConfigFile, parseConfig } from './load-config.ts';

const EXAMPLE = `repositories:
  - name: local                      # referenced by policies
    url: /srv/vmbak                  # any --repo location
    passphraseFile: local.pass
  - name: offsite
    url: s3://bucket/vmbak
    credentialsFile: offsite.env
policies:
  - name: web
    vms: ["web*", "tag:prod"]        # names, globs, tag:
    repositories: [local]            # failover order; \`spread: true\` to balance
    copyTo: offsite
    schedule: "0 2 * * *"            # cron; a 6-field form with seconds is accepted
    timezone: Europe/Berlin
    rpo: 26h
    retention: { keepLast: 3, keepDaily: 7, keepWeekly: 4, keepMonthly: 6 }
  - name: db
    vms: [db01]
    repositories: [local]
    schedule: "*/20 * * * * *"
    enabled: false
    quiesce: require
    hooks: { preFreeze: /etc/vmbak/flush.sh, postThaw: /etc/vmbak/resume.sh, timeout: 2m }
    excludeDisks: [vdc]
    bandwidthMBps: 50
    window: { start: "22:00", end: "06:00", atEnd: pause }
alerts:
  channels:
    - { name: ops, type: smtp, host: smtp.example.com, port: 587, from: vmbak@example.com, to: [ops@example.com] }
    - { name: hook, type: webhook, url: https://hooks.example.com/vmbak, secretFile: hook.secret }
  rules:
    - { events: [job.failed, job.warning, rpo.missed, verify.failed], channels: [ops, hook] }
`;

function writeExample(dir: string, text = EXAMPLE): string {
  writeFileSync(join(dir, 'local.pass'), 'correct horse\n');
  writeFileSync(join(dir, 'offsite.env'), '# S3 keys\nAWS_ACCESS_KEY_ID=AK\nAWS_SECRET_ACCESS_KEY=SK\n');
  writeFileSync(join(dir, 'hook.secret'), 'sign-me\n');
  const file = join(dir, 'vmbak.yaml');
  writeFileSync(file, text);
  return file;
}

test('the issue’s example loads, with defaults filled in and secrets read from their files', async (t) => {
  const loaded = await loadConfigFile(writeExample(tempDir(t)));
  const [web, db] = loaded.config.policies;
  assert.deepEqual([web!.copyTo, web!.spread, web!.quiesce, web!.enabled, db!.enabled], [['offsite'], false, 'auto', true, false]);
  assert.deepEqual(db!.window, { start: '22:00', end: '06:00', atEnd: 'pause' });
  assert.deepEqual(loaded.credentials.get('local'), { passphrase: 'correct horse', env: undefined });
  assert.deepEqual(loaded.credentials.get('offsite'), { passphrase: undefined, env: { AWS_ACCESS_KEY_ID: 'AK', AWS_SECRET_ACCESS_KEY: 'SK' } });
  assert.equal(loaded.channelSecrets.get('hook'), 'sign-me');
  assert.equal(loaded.channelSecrets.get('ops'), null);
  assert.equal(loaded.config.alerts.dedupWindow, '1h');
});

/** The one-line CONFIG_INVALID message for `text`. */
function errorFor(text: string): string {
  try {
    parseConfig(text, 'vmbak.yaml');
  } catch (err) {
    assert.ok(isVmbakError(err, 'CONFIG_INVALID'), String(err));
    assert.equal(err.exitCode, 2);
    assert.ok(!err.message.includes('\n'), `one line: ${err.message}`);
    return err.message;
  }
  assert.fail('no error');
}

const edit = (from: string, to: string): string => {
  assert.ok(EXAMPLE.includes(from), from);
  return EXAMPLE.replace(from, to);
};

test('a bad file is one line naming file, line and field', () => {
  const cases: [string, RegExp][] = [
    [edit('"0 2 * * *"', '"0 2 * *"'), /^invalid configuration: vmbak\.yaml:13: policies\[0\]\.schedule \(policy web\): cron "0 2 \* \*" has 4 fields; give 5 \(minute first\) or 6 \(seconds first\)$/],
    [edit('"*/20 * * * * *"', '"*/20 * * * 99 *"'), /vmbak\.yaml:20: policies\[1\]\.schedule \(policy db\): cron "\*\/20 \* \* \* 99 \*": .*month/i],
    [edit('    rpo: 26h\n', '    rpo: 26h\n    colour: blue\n'), /vmbak\.yaml:16: policies\[0\]\.colour \(policy web\): unknown field/],
    [edit('    schedule: "*/20 * * * * *"\n', ''), /vmbak\.yaml:17: policies\[1\]\.schedule \(policy db\): is required/],
    [edit('repositories: [local]            #', 'repositories: [lcoal]            #'), /vmbak\.yaml:11: policies\[0\]\.repositories\[0\] \(policy web\): no repository named lcoal in this file/],
    [edit('keepDaily: 7', 'keepDaily: seven'), /vmbak\.yaml:16: policies\[0\]\.retention\.keepDaily \(policy web\): expected number, received string/],
    [edit('timezone: Europe/Berlin', 'timezone: Europe/Berlinn'), /vmbak\.yaml:14: policies\[0\]\.timezone \(policy web\): not an IANA time zone/],
    [edit('rpo: 26h', 'rpo: 26 hours'), /vmbak\.yaml:15: policies\[0\]\.rpo \(policy web\): give a duration such as/],
    [edit('  - name: db\n', '  - name: web\n'), /vmbak\.yaml:17: policies\[1\]\.name \(policy web\): web is named twice/],
    [edit('channels: [ops, hook]', 'channels: [ops, hooks]'), /vmbak\.yaml:32: alerts\.rules\[0\]\.channels\[1\]: no channel named hooks in this file/],
    [edit('job.warning', 'job.warned'), /vmbak\.yaml:32: alerts\.rules\[0\]\.events\[1\]: /],
    [edit('to: [ops@example.com]', 'to: [ops]'), /vmbak\.yaml:29: alerts\.channels\[0\]\.to\[0\] \(channel ops\): Invalid email/],
    [edit('type: webhook', 'type: pager'), /vmbak\.yaml:30: alerts\.channels\[1\]\.type \(channel hook\): .*'smtp' \| 'webhook'/],
    [edit('    vms: [db01]\n', '    vms: [db01]\n  bad indent: [\n'), /^invalid configuration: vmbak\.yaml:19: /],
    [edit('    url: /srv/vmbak ', '    url: /srv/vmbak\n    url: /srv/other '), /vmbak\.yaml:4: Map keys must be unique/],
    ['', /vmbak\.yaml:1: the file: expected a mapping with repositories and policies/],
    ['repositories: []\n', /vmbak\.yaml:1: policies: is required/],
    [edit('    passphraseFile: local.pass\n', '    passphraseFile: local.pass\n    care: { verifyNew: "0 3 * *" }\n'), /vmbak\.yaml:5: repositories\[0\]\.care\.verifyNew \(repository local\): cron "0 3 \* \*" has 4 fields/],
    [edit('    passphraseFile: local.pass\n', '    passphraseFile: local.pass\n    care: { capacity: lots }\n'), /vmbak\.yaml:5: repositories\[0\]\.care\.capacity \(repository local\): give a size such as 500GiB/],
  ];
  for (const [text, expected] of cases) assert.match(errorFor(text), expected);
  assert.match(errorFor(edit('"0 2 * * *"', '"0 2 * *"').replace('rpo: 26h', 'rpo: x')), /\(and 1 more problem\)$/);
});

test('an unreadable or malformed secret file names its line, and its contents never show', async (t) => {
  const dir = tempDir(t);
  const missing = writeExample(dir, EXAMPLE.replace('passphraseFile: local.pass', 'passphraseFile: missing.pass'));
  await assert.rejects(loadConfigFile(missing), (err) => isVmbakError(err, 'CONFIG_INVALID')
    && /vmbak\.yaml:4: repositories\[0\]\.passphraseFile \(repository local\): cannot read missing\.pass: ENOENT/.test(err.message));
  const file = writeExample(dir);
  writeFileSync(join(dir, 'offsite.env'), 'AWS_ACCESS_KEY_ID=AK\nAWS_SECRET_ACCESS_KEY SK-secret\n');
  await assert.rejects(loadConfigFile(file), (err) => isVmbakError(err, 'CONFIG_INVALID') && !err.message.includes('SK-secret')
    && /vmbak\.yaml:7: repositories\[1\]\.credentialsFile \(repository offsite\): line 2 of the credentials file is not KEY=VALUE$/.test(err.message));
  await assert.rejects(loadConfigFile(join(dir, 'nope.yaml')), /nope\.yaml: cannot read it: ENOENT/);
});

test('applying the same file twice changes nothing; edits update, removals remove, API policies stay', async (t) => {
  const dir = tempDir(t);
  const catalog = await tempCatalog(t);
  const box = new SecretsBox(Buffer.alloc(32, 5));
  await upsertPolicy(catalog, { name: 'adhoc', spec: { vms: ['x'], repositories: ['elsewhere'], schedule: '@daily' } });
  const first = await applyConfig(catalog, box, await loadConfigFile(writeExample(dir)));
  assert.deepEqual(first.created.sort(), [
    'alert channel hook', 'alert channel ops', 'alert rule rule-1', 'policy db', 'policy web', 'repository local', 'repository offsite',
  ]);
  const again = await applyConfig(catalog, box, await loadConfigFile(writeExample(dir)));
  assert.deepEqual(again, { created: [], updated: [], removed: [], unchanged: 7 });
  assert.deepEqual((await listPolicies(catalog)).map((p) => [p.name, p.managedByConfig, p.enabled]), [['adhoc', false, true], ['db', true, false], ['web', true, true]]);
  assert.deepEqual(await readRepositoryCredentials(catalog, box, 'local'), { passphrase: 'correct horse' });
  assert.equal(await readAlertChannelSecret(catalog, box, 'hook'), 'sign-me');
  assert.deepEqual((await listRepositories(catalog)).map((r) => [r.name, r.hasCredentials, r.managedByConfig]), [['local', true, true], ['offsite', true, true]]);

  const edited = EXAMPLE.replace('rpo: 26h', 'rpo: 30h').replace(/  - name: db[\s\S]*?(?=alerts:)/, '');
  const editedFile = writeExample(dir, edited);
  writeFileSync(join(dir, 'hook.secret'), 'rotated\n');
  const third = await applyConfig(catalog, box, await loadConfigFile(editedFile));
  assert.deepEqual(third, { created: [], updated: ['policy web', 'alert channel hook'], removed: ['policy db'], unchanged: 4 });
  assert.equal((await getPolicy(catalog, 'web'))!.spec.rpo, '30h');
  assert.equal(await readAlertChannelSecret(catalog, box, 'hook'), 'rotated');
  assert.ok(await getPolicy(catalog, 'adhoc'), 'an API policy is not the file’s to remove');

  const bare = 'repositories: []\npolicies: []\n';
  const last = await applyConfig(catalog, box, await loadConfigFile(writeExample(dir, bare)));
  assert.deepEqual(last.removed.sort(), ['alert channel hook', 'alert channel ops', 'alert rule rule-1', 'policy web', 'repository local', 'repository offsite']);
  assert.deepEqual([(await listAlertChannels(catalog)).length, (await listAlertRules(catalog)).length], [0, 0]);
});
