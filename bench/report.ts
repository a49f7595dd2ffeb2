// bench/report.ts RESULTS_DIR — turns what bench/run.sh wrote per image (results.tsv,
// meta.tsv, limits.tsv in RESULTS_DIR/<GiB>g-s<seed>/) into the printed report: per image the
// tools' figures, vmbak/peer ratios, the limits and ceiling, the targets of issues 2 and 12;
// then the targets side by side across the images with their spread. Also results.json.
// (A results folder of the one-image layout, meta.tsv in RESULTS_DIR itself, still reads.)
// Run with Node 24 (node_modules/.bin/node), which executes TypeScript directly.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

interface Row {
  tool: string;
  step: string;
  wallS: number;
  cpuS: number;
  otherCpuS: number;
  rssKB: number;
  treeRssKB: number;
  repoBytes: number;
  newBytes: number | null;
  mutatedBytes: number | null;
  rc: number;
  verify: string;
  restoredAlloc: number | null;
  quietWaitS: number;
  /** Restore only: seconds a `sync` right after the tool took (its data still in the page cache). */
  syncS: number | null;
  toolJson: unknown;
  mbpsLogical: number;
  mbpsAlloc: number;
}

interface Target {
  id: string;
  text: string;
  measured: string;
  met: boolean | null;
}

const dir = process.argv[2];
if (!dir) {
  console.error('usage: report.ts RESULTS_DIR');
  process.exit(2);
}

const MB = (b: number | null): string => (b === null ? '-' : (b / 1e6).toFixed(1));
const MiB = (kb: number): string => (kb / 1024).toFixed(1);
const pad = (s: string, n: number): string => (s.length >= n ? s : s + ' '.repeat(n - s.length));
const lpad = (s: string, n: number): string => (s.length >= n ? s : ' '.repeat(n - s.length) + s);
const table = (head: string[], body: string[][], leftCols = 2): string => {
  const w = head.map((h, i) => Math.max(h.length, ...body.map((r) => (r[i] ?? '').length)));
  const fmt = (r: string[]): string =>
    r.map((c, i) => (i < leftCols ? pad(c, w[i] ?? 0) : lpad(c, w[i] ?? 0))).join('  ').trimEnd();
  return [fmt(head), ...body.map(fmt)].join('\n');
};

interface ImageReport {
  label: string;
  text: string;
  json: unknown;
  targets: Target[];
}

function reportImage(imgDir: string): ImageReport {
  const meta = new Map<string, string>();
  for (const line of readFileSync(join(imgDir, 'meta.tsv'), 'utf8').split('\n')) {
    const i = line.indexOf('\t');
    if (i > 0) meta.set(line.slice(0, i), line.slice(i + 1));
  }
  const logical = Number(meta.get('logical_bytes'));
  const alloc = Number(meta.get('alloc_bytes'));
  const mode = meta.get('mode') ?? 'full';

  const num = (s: string | undefined): number | null => (s === undefined || s === '' ? null : Number(s));

  const rows: Row[] = [];
  const tsvLines = readFileSync(join(imgDir, 'results.tsv'), 'utf8').split('\n').filter((l) => l.length > 0);
  for (const line of tsvLines.slice(1)) {
    const f = line.split('\t');
    const wallS = Number(f[2]);
    let toolJson: unknown = null;
    if (f[14]) {
      try {
        toolJson = JSON.parse(f[14]);
      } catch {
        toolJson = f[14];
      }
    }
    rows.push({
      tool: f[0] ?? '',
      step: f[1] ?? '',
      wallS,
      cpuS: Number(f[3]),
      otherCpuS: Number(f[4]),
      rssKB: Number(f[5]),
      treeRssKB: Number(f[6]),
      repoBytes: Number(f[7]),
      newBytes: num(f[8]),
      mutatedBytes: num(f[9]),
      rc: Number(f[10]),
      verify: f[11] ?? '',
      restoredAlloc: num(f[12]),
      quietWaitS: Number(f[13]),
      syncS: num(f[15]),
      toolJson,
      mbpsLogical: wallS > 0 ? logical / 1e6 / wallS : 0,
      mbpsAlloc: wallS > 0 ? alloc / 1e6 / wallS : 0,
    });
  }

  const get = (tool: string, step: string): Row | undefined =>
    rows.find((r) => r.tool === tool && r.step === step && r.rc === 0);
  const tools = [...new Set(rows.map((r) => r.tool))];
  const mut1 = rows.find((r) => r.step === 'c')?.mutatedBytes ?? null;
  const mut2 = rows.find((r) => r.step === 'c2')?.mutatedBytes ?? null;
  const mutConsistent = rows.every(
    (r) => r.mutatedBytes === null || r.mutatedBytes === (r.step === 'c' ? mut1 : mut2),
  );

  const out: string[] = [];
  out.push('');
  out.push(
    `vmbak bench (${mode}) — ${meta.get('time')} on ${meta.get('host')} (${meta.get('nproc')} cores, kernel ${meta.get('kernel')}), vmbak ${meta.get('vmbak_launcher')} at commit ${meta.get('vmbak_commit')}${Number(meta.get('vmbak_uncommitted_files') ?? 0) > 0 ? ` + ${meta.get('vmbak_uncommitted_files')} uncommitted files in src/ bin/` : ''}`,
  );
  out.push(
    `image: ${meta.get('size_gib')} GiB, seed ${meta.get('seed')}: logical ${logical} B (${MB(logical)} MB), allocated ${alloc} B (${MB(alloc)} MB)`,
  );
  out.push(
    `bytes changed: c (mutate 1% seed 1, scattered 4 KiB) ${mut1 ?? '-'} B = ${MB(mut1)} MB; c2 (mutate 1% seed 2, 64 KiB runs) ${mut2 ?? '-'} B = ${MB(mut2)} MB${mutConsistent ? '' : '  (WARNING: differs between tools!)'}`,
  );
  out.push(
    `${meta.get('restic')} | ${meta.get('borg')} | node ${meta.get('node')} | page-cache drop before each step: ${meta.get('drop_caches')} | total ${meta.get('total_s')} s`,
  );
  out.push(
    'MB = 1e6 bytes. MB/s log = logical image size / wall; MB/s alloc = allocated bytes / wall. new MB = repository size growth (du -sb) in the step.',
  );
  out.push(
    'rss = max RSS of the largest single process (GNU time; for vmbak its node process, worker threads included);',
  );
  out.push('tree = peak of the summed RSS of the whole process tree (tool + children such as qemu-nbd), sampled every 0.25 s.');
  out.push('');

  const ratio = (a: number | null | undefined, b: number | null | undefined): number | null =>
    a === null || a === undefined || b === null || b === undefined || b === 0 ? null : a / b;
  const fx = (r: number | null, digits = 2): string => (r === null ? '-' : `${r.toFixed(digits)}x`);
  const peak = (tool: string, key: 'rssKB' | 'treeRssKB'): number | null => {
    const rs = rows.filter((r) => r.tool === tool);
    return rs.length ? Math.max(...rs.map((r) => r[key])) : null;
  };

  const steps = mode === 'sweep' ? ['a', 'c', 'c2'] : ['a', 'b', 'c', 'c2', 'd'];
  const body: string[][] = [];
  for (const t of tools) {
    for (const s of steps) {
      const r = rows.find((x) => x.tool === t && x.step === s);
      if (!r) continue;
      const note: string[] = [];
      if (r.rc !== 0) note.push(`FAILED rc=${r.rc}`);
      if (r.otherCpuS > 0.5 * r.wallS) note.push(`other CPU ${r.otherCpuS.toFixed(1)} s (other processes, kernel writeback)`);
      const j = r.toolJson;
      if (j !== null && typeof j === 'object' && 'durationMs' in j && 'bytesNew' in j) {
        note.push(`own report: ${(Number(j.durationMs) / 1000).toFixed(2)} s, bytesNew ${MB(Number(j.bytesNew))} MB`);
      }
      if (r.verify) note.push(`restore sha256 ${r.verify}, restored file allocates ${MB(r.restoredAlloc)} MB`);
      if (r.syncS !== null) note.push(`sync after it ${r.syncS.toFixed(2)} s`);
      if (r.newBytes !== null && r.mutatedBytes) note.push(`${(r.newBytes / r.mutatedBytes).toFixed(2)}x bytes changed`);
      body.push([
        t,
        s,
        r.wallS.toFixed(2),
        r.mbpsLogical.toFixed(0),
        r.mbpsAlloc.toFixed(0),
        MB(r.newBytes),
        MB(r.repoBytes),
        MiB(r.rssKB),
        MiB(r.treeRssKB),
        r.cpuS.toFixed(1),
        r.otherCpuS.toFixed(1),
        note.join('; '),
      ]);
    }
  }
  out.push(
    table(
      ['tool', 'step', 'wall_s', 'MB/s log', 'MB/s alloc', 'new MB', 'repo MB', 'rss MiB', 'tree MiB', 'cpu_s', 'other_cpu_s', 'note'],
      body,
    ),
  );
  out.push('');

  const limits = readLimits(imgDir);
  if (limits) out.push(...limitsText(limits), '');
  const targets: Target[] = [];
  const ratios: Record<string, Record<string, number | null>> = {};

  if (mode === 'full' && tools.includes('vmbak')) {
    const peers = tools.filter((t) => t !== 'vmbak');
    if (peers.length) {
      const rb: string[][] = [];
      const add = (label: string, key: string, f: (p: string) => number | null): void => {
        const cells = peers.map((p) => {
          const v = f(p);
          (ratios[p] ??= {})[key] = v;
          return fx(v);
        });
        rb.push([label, ...cells]);
      };
      for (const s of ['a', 'b', 'c', 'c2', 'd']) {
        add(`${s} throughput (vmbak/peer)`, `${s}_throughput`, (p) => ratio(get('vmbak', s)?.mbpsLogical, get(p, s)?.mbpsLogical));
      }
      for (const s of ['a', 'b', 'c', 'c2']) {
        add(`${s} new stored (vmbak/peer)`, `${s}_new_stored`, (p) => ratio(get('vmbak', s)?.newBytes, get(p, s)?.newBytes));
      }
      add('repo size after a (vmbak/peer)', 'repo_after_a', (p) => ratio(get('vmbak', 'a')?.repoBytes, get(p, 'a')?.repoBytes));
      add('repo size after c2 (vmbak/peer)', 'repo_after_c2', (p) => ratio(get('vmbak', 'c2')?.repoBytes, get(p, 'c2')?.repoBytes));
      add('peak RSS, largest process (vmbak/peer)', 'peak_rss', (p) => ratio(peak('vmbak', 'rssKB'), peak(p, 'rssKB')));
      add('peak RSS, process tree (vmbak/peer)', 'peak_tree_rss', (p) => ratio(peak('vmbak', 'treeRssKB'), peak(p, 'treeRssKB')));
      out.push('Ratios vmbak / peer (throughput: >1 = vmbak faster; stored, size, RSS: <1 = vmbak smaller)');
      out.push(table(['', ...peers], rb, 1));
      out.push('');
    }

    const v = (s: string): Row | undefined => get('vmbak', s);
    const tgt = (id: string, text: string, value: number | null, measured: (x: number) => string, ok: (x: number) => boolean): void => {
      targets.push({ id, text, measured: value === null ? 'not measured' : measured(value), met: value === null ? null : ok(value) });
    };
    const wall = (t: string, s: string): string => { const r = get(t, s); return r ? `${r.wallS.toFixed(2)} s, ${r.cpuS.toFixed(1)} cpu-s` : '-'; };
    tgt('a-restic', '(a) first backup throughput >= 2x restic', ratio(v('a')?.mbpsLogical, get('restic', 'a')?.mbpsLogical), (x) => `${fx(x)} (vmbak ${wall('vmbak', 'a')}; restic ${wall('restic', 'a')})`, (x) => x >= 2);
    tgt('a-borg-zstd3', '(a) first backup throughput >= 2x borg repokey zstd,3', ratio(v('a')?.mbpsLogical, get('borg-zstd3', 'a')?.mbpsLogical), (x) => `${fx(x)} (borg ${wall('borg-zstd3', 'a')})`, (x) => x >= 2);
    // CPU-seconds blur less than wall time when other processes share the machine.
    for (const [peer, label] of [['restic', 'restic'], ['borg-zstd3', 'borg zstd,3']] as const) {
      tgt(`a-cpu-${peer}`, `(a) first backup cpu-s, ${label} / vmbak (reported, no target)`, ratio(get(peer, 'a')?.cpuS, v('a')?.cpuS), (x) => `${fx(x)} less CPU`, () => true);
      targets[targets.length - 1]!.met = null;
    }
    const ceilingS = limits ? Math.max(limits.backupCpuS / 2, limits.coldReadS) : null;
    tgt('a-ceiling', '(a) first backup wall <= 1.5x the ceiling (max of CPU-bound time on 2 cores, cold read)', ratio(v('a')?.wallS, ceilingS), (x) => `${fx(x)} (${v('a')?.wallS.toFixed(2)} s vs ceiling ${ceilingS?.toFixed(2)} s)`, (x) => x <= 1.5);
    const lz4 = ratio(v('a')?.mbpsLogical, get('borg-lz4', 'a')?.mbpsLogical);
    targets.push({
      id: 'a-borg-lz4',
      text: '(a) first backup throughput vs borg repokey lz4 (reported, no target)',
      measured: lz4 === null ? 'not measured' : fx(lz4),
      met: null,
    });
    tgt('b-borg', '(b) unchanged re-read >= 2x faster than borg (zstd,3, --files-cache=disabled)', ratio(get('borg-zstd3', 'b')?.wallS, v('b')?.wallS), (x) => `${fx(x)} faster`, (x) => x >= 2);
    const c64 = get('borg-fixed64k', 'c')?.newBytes;
    tgt('c-borg-fixed64k', '(c) new stored after 1% scattered <= borg fixed 64 KiB', ratio(v('c')?.newBytes, c64), (x) => `${MB(v('c')?.newBytes ?? null)} MB vs ${MB(c64 ?? null)} MB = ${fx(x)}`, (x) => x <= 1);
    tgt('c2-changed', '(c2) new stored after 1% in 64 KiB runs <= 2x bytes changed', ratio(v('c2')?.newBytes, mut2), (x) => `${MB(v('c2')?.newBytes ?? null)} MB vs ${MB(mut2)} MB changed = ${fx(x)}`, (x) => x <= 2);
    tgt('d-restic', '(d) restore throughput >= 2x restic', ratio(v('d')?.mbpsLogical, get('restic', 'd')?.mbpsLogical), (x) => `${fx(x)} (vmbak ${wall('vmbak', 'd')}; restic ${wall('restic', 'd')})`, (x) => x >= 2);
    tgt('d-borg', '(d) restore faster than borg zstd,3 extract', ratio(get('borg-zstd3', 'd')?.wallS, v('d')?.wallS), (x) => `${fx(x)} faster (borg ${wall('borg-zstd3', 'd')})`, (x) => x > 1);
    // vmbak's restore ends with its data on disk; the peers' data is still being written back.
    const durable = (tool: string): number | null => { const r = get(tool, 'd'); return r && r.syncS !== null ? r.wallS + r.syncS : null; };
    for (const peer of ['restic', 'borg-zstd3']) {
      tgt(`d-durable-${peer}`, `(d) restore until on disk (wall + sync after it), ${peer} / vmbak (reported, no target)`, ratio(durable(peer), durable('vmbak')),
        (x) => `${fx(x)} faster (vmbak ${durable('vmbak')?.toFixed(2)} s, ${peer} ${durable(peer)?.toFixed(2)} s)`, () => true);
      targets[targets.length - 1]!.met = null;
    }
    tgt('d-cpu-limit', '(d) restore cpu-s <= 1.5x its limit (AES-GCM open + zstd decompress + HMAC id check of the non-zero data)', ratio(v('d')?.cpuS, limits?.restoreCpuS), (x) => `${fx(x)} (${v('d')?.cpuS.toFixed(2)} cpu-s vs ${limits?.restoreCpuS.toFixed(2)} cpu-s)`, (x) => x <= 1.5);
    tgt('d-cpu-strict', '(d) restore cpu-s vs open + decompress alone (reported, no target)', ratio(v('d')?.cpuS, limits?.restoreStrictCpuS), (x) => `${fx(x)} (vs ${limits?.restoreStrictCpuS.toFixed(2)} cpu-s)`, () => true);
    targets[targets.length - 1]!.met = null;
    tgt('a-cpu-limit', '(a) first backup cpu-s vs its limit (HMAC + zstd compress + AES-GCM seal; reported, no target)', ratio(v('a')?.cpuS, limits?.backupCpuS), (x) => `${fx(x)} (${v('a')?.cpuS.toFixed(2)} cpu-s vs ${limits?.backupCpuS.toFixed(2)} cpu-s)`, () => true);
    targets[targets.length - 1]!.met = null;
    tgt('repo-a', 'repository after (a) <= 1.10x borg repokey zstd,3', ratio(v('a')?.repoBytes, get('borg-zstd3', 'a')?.repoBytes), (x) => `${MB(v('a')?.repoBytes ?? null)} MB vs ${MB(get('borg-zstd3', 'a')?.repoBytes ?? null)} MB = ${fx(x, 3)}`, (x) => x <= 1.1);
    const pt = peak('vmbak', 'treeRssKB');
    const pn = peak('vmbak', 'rssKB');
    tgt('rss', 'vmbak peak RSS <= 250 MiB (process tree: node + qemu-nbd)', pt, (x) => `tree ${MiB(x)} MiB, node process ${pn === null ? '-' : MiB(pn)} MiB`, (x) => x / 1024 <= 250);
    const dv = v('d');
    targets.push({
      id: 'restore-verified',
      text: '(d) restored image sha256 equals the image after c2',
      measured: dv ? dv.verify : 'not measured',
      met: dv ? dv.verify === 'OK' : null,
    });

    out.push('Targets (issues 2 and 12), measured in this run:');
    out.push(
      table(
        ['', 'target', 'measured'],
        targets.map((t) => [t.met === null ? (t.measured === 'not measured' ? 'n/a' : 'info') : t.met ? 'MET' : 'NOT MET', t.text, t.measured]),
        2,
      ),
    );
    out.push('');
  }

  if (mode === 'sweep') {
    const sb: string[][] = [];
    for (const t of tools) {
      const a = rows.find((r) => r.tool === t && r.step === 'a');
      const c = rows.find((r) => r.tool === t && r.step === 'c');
      const c2 = rows.find((r) => r.tool === t && r.step === 'c2');
      const last = c2 ?? c ?? a;
      sb.push([
        t.replace(/^vmbak-/, ''),
        a ? a.wallS.toFixed(2) : '-',
        a ? a.mbpsLogical.toFixed(0) : '-',
        MB(a?.newBytes ?? null),
        c ? c.wallS.toFixed(2) : '-',
        MB(c?.newBytes ?? null),
        fx(ratio(c?.newBytes, mut1)),
        c2 ? c2.wallS.toFixed(2) : '-',
        MB(c2?.newBytes ?? null),
        fx(ratio(c2?.newBytes, mut2)),
        MB(last?.repoBytes ?? null),
        MiB(peak(t, 'treeRssKB') ?? 0),
      ]);
    }
    out.push('vmbak chunk-size sweep (steps a, c, c2; new MB = repository growth):');
    out.push(
      table(
        ['chunk', 'a wall_s', 'a MB/s', 'a new MB', 'c wall_s', 'c new MB', 'c new/changed', 'c2 wall_s', 'c2 new MB', 'c2 new/changed', 'repo MB', 'peak tree MiB'],
        sb,
        1,
      ),
    );
    out.push('');
  }
  return finishImage(imgDir, meta, rows, out, targets, ratios, { mut1, mut2 });
}

/** The limits step's figures (limits.tsv) and what they make of this image. */
interface Limits {
  values: Map<string, number>;
  nonZeroBytes: number;
  coldReadS: number;
  coldReadBytes: number;
  /** CPU-seconds the backup's per-byte work costs on the non-zero data: HMAC + compress + seal. */
  backupCpuS: number;
  /**
   * CPU-seconds of a restore's per-byte work as issue 12 counts it: open (AES-GCM) +
   * decompress + id verification (HMAC-SHA-256). vmbak skips the last under encryption (the
   * GCM tag covers the chunk id), so restoreStrictCpuS leaves it out.
   */
  restoreCpuS: number;
  restoreStrictCpuS: number;
}

function readLimits(imgDir: string): Limits | null {
  const path = join(imgDir, 'limits.tsv');
  if (!existsSync(path)) return null;
  const values = new Map<string, number>();
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const [k, v] = line.split('\t');
    if (k && v !== undefined) values.set(k, Number(v));
  }
  const ns = (k: string): number => values.get(`${k}_ns_per_B`) ?? NaN;
  const nonZeroBytes = values.get('nonzero_bytes') ?? NaN;
  return {
    values,
    nonZeroBytes,
    coldReadS: values.get('cold_read_s') ?? NaN,
    coldReadBytes: values.get('cold_read_bytes') ?? NaN,
    backupCpuS: (nonZeroBytes * (ns('hmac') + ns('compress') + ns('encrypt'))) / 1e9,
    restoreCpuS: (nonZeroBytes * (ns('decrypt') + ns('decompress') + ns('hmac'))) / 1e9,
    restoreStrictCpuS: (nonZeroBytes * (ns('decrypt') + ns('decompress'))) / 1e9,
  };
}

function limitsText(l: Limits): string[] {
  const v = (k: string): string => String(l.values.get(k) ?? '-');
  const mbps = (k: string): string => `${v(`${k}_MBps`)} MB/s (${Number(v(`${k}_ns_per_B`)).toFixed(3)} ns/B)`;
  return [
    `Limits on this machine, this image's data, one core (vmbak's primitives: ${v('chunk_bytes')} B chunks, zstd level ${v('zstd_level')}; per plain non-zero byte;`
    + ` stored/plain ${v('stored_ratio')}; other CPU during the step ${v('limits_other_cpu_s')} s):`,
    `  HMAC-SHA-256 ${mbps('hmac')} | zstd compress ${mbps('compress')} | AES-256-GCM seal ${mbps('encrypt')}`,
    `  AES-256-GCM open ${mbps('decrypt')} | zstd decompress ${mbps('decompress')}`,
    `  non-zero data ${MBs(l.nonZeroBytes)} MB; cold read of the allocated data ${MBs(l.coldReadBytes)} MB in ${l.coldReadS.toFixed(2)} s`
    + ` = ${(l.coldReadBytes / 1e6 / l.coldReadS).toFixed(0)} MB/s (other CPU ${v('cold_read_other_cpu_s')} s)`,
    `  backup: ${l.backupCpuS.toFixed(2)} cpu-s of per-byte work = ${(l.backupCpuS / 2).toFixed(2)} s on 2 cores;`
    + ` ceiling = max(that, cold read) = ${Math.max(l.backupCpuS / 2, l.coldReadS).toFixed(2)} s`,
    `  restore: ${l.restoreCpuS.toFixed(2)} cpu-s of per-byte work with id verification (open + decompress + HMAC) = ${(l.restoreCpuS / 2).toFixed(2)} s on 2 cores;`
    + ` ${l.restoreStrictCpuS.toFixed(2)} cpu-s without it (open + decompress)`,
  ];
}

const MBs = (b: number): string => (b / 1e6).toFixed(1);

function finishImage(imgDir: string, meta: Map<string, string>, rows: unknown[], out: string[], targets: Target[], ratios: unknown, mutated: { mut1: number | null; mut2: number | null }): ImageReport {
  const label = `${meta.get('size_gib')} GiB seed ${meta.get('seed')}`;
  const limits = readLimits(imgDir);
  return {
    label,
    text: out.join('\n'),
    targets,
    json: {
      dir: imgDir,
      meta: Object.fromEntries(meta),
      limits: limits ? { ...Object.fromEntries(limits.values), backupCpuS: limits.backupCpuS, restoreCpuS: limits.restoreCpuS, restoreStrictCpuS: limits.restoreStrictCpuS } : null,
      mutatedBytes: { c: mutated.mut1, c2: mutated.mut2 },
      rows,
      ratios,
      targets,
    },
  };
}

// One image folder per GiB:seed; a results folder of the one-image layout is its own image.
const imageDirs = existsSync(join(dir, 'meta.tsv'))
  ? [dir]
  : readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && existsSync(join(dir, e.name, 'meta.tsv')) && existsSync(join(dir, e.name, 'results.tsv')))
    .map((e) => join(dir, e.name))
    .sort((x, y) => y.localeCompare(x, undefined, { numeric: true }));
const reports = imageDirs.map(reportImage);
const text: string[] = reports.map((r) => r.text);

if (reports.length > 1) {
  // The same target on each image, and the spread of the ratios behind them.
  const ids = [...new Set(reports.flatMap((r) => r.targets.map((t) => t.id)))];
  const body = ids.map((id) => {
    const per = reports.map((r) => r.targets.find((t) => t.id === id));
    const first = per.find((t) => t !== undefined);
    const verdict = per.every((t) => t?.met === true) ? 'MET' : per.some((t) => t?.met === false) ? 'NOT MET' : 'info';
    // Only ratios ("1.23x ...") spread; sizes and RSS are per image by nature.
    const spread = per.map((t) => (t && /^[\d.]+x/.test(t.measured) ? Number.parseFloat(t.measured) : NaN)).filter((x) => Number.isFinite(x));
    return [
      verdict,
      first?.text ?? id,
      ...per.map((t) => (t ? `${t.met === null ? '' : t.met ? 'MET ' : 'NOT MET '}${t.measured.split(' (')[0]}` : '-')),
      spread.length > 1 ? `${Math.min(...spread).toFixed(2)}..${Math.max(...spread).toFixed(2)}` : '-',
    ];
  });
  text.push(`Across the ${reports.length} images (MET only when met on every image; spread = smallest..largest ratio):`);
  text.push(table(['', 'target', ...reports.map((r) => r.label), 'spread'], body, 2));
  text.push('');
}

console.log(text.join('\n'));
writeFileSync(join(dir, 'results.json'), JSON.stringify({ images: reports.map((r) => r.json) }, null, 2) + '\n');
