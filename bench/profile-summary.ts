/**
 * `npx tsx bench/profile-summary.ts <file.cpuprofile | dir> [--top 25] [--window 5-30] [--inclusive]`
 *
 * Where a process's CPU went, from the V8 profiles `--cpu-prof` writes (BENCH_CHILD_NODE_ARGS="--cpu-prof
 * --cpu-prof-dir=<dir>" profiles a bench's engine processes). Per profile: a timeline of busy CPU per
 * second (to pick a window that leaves start-up out), then self time by module (a package, a node
 * internal area, or a folder of this repository), by function, and with --inclusive the functions whose
 * callees take the most (each stack counted once per sample).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { formatTable, type BenchTable } from './report.ts';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const REPO = fileURLToPath(new URL('..', import.meta.url));
const NOT_CPU = new Set(['(idle)', '(root)']);

/** The module a frame belongs to: an npm package, `node:<area>`, a repository folder, or V8's own. */
function moduleOf(frame: ProfileNode['callFrame']): string {
  const { url, functionName } = frame;
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const parts = url.slice(nm + '/node_modules/'.length).split('/');
    return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
  }
  if (url.startsWith('node:')) {
    const parts = url.slice(5).split('/');
    return `node:${parts[0] === 'internal' ? parts.slice(1, 2).join('/').replace(/\.js$/, '') || 'internal' : parts[0]}`;
  }
  const path = url.startsWith('file://') ? relative(REPO, fileURLToPath(url)) : url;
  const parts = path.split('/');
  return parts.length > 2 ? parts.slice(0, 2).join('/') : parts[0];
}

function functionKey(frame: ProfileNode['callFrame']): string {
  const where = frame.url ? `${frame.url.startsWith('file://') ? relative(REPO, fileURLToPath(frame.url)) : frame.url.replace(/^.*\/node_modules\//, '')}:${frame.lineNumber + 1}` : '';
  return `${frame.functionName || '(anonymous)'} ${where}`.trim();
}

interface Summary {
  busyMs: number;
  totalMs: number;
  timeline: number[];
  self: Map<string, number>;
  modules: Map<string, number>;
  inclusive: Map<string, number>;
}

function summarise(profile: CpuProfile, window?: { from: number; to: number }): Summary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const s: Summary = { busyMs: 0, totalMs: 0, timeline: [], self: new Map(), modules: new Map(), inclusive: new Map() };
  const add = (m: Map<string, number>, k: string, v: number) => m.set(k, (m.get(k) ?? 0) + v);
  let t = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const ms = profile.timeDeltas[i] / 1000;
    t += ms;
    const node = byId.get(profile.samples[i]);
    if (!node || NOT_CPU.has(node.callFrame.functionName)) continue;
    const second = Math.floor(t / 1000);
    s.timeline[second] = (s.timeline[second] ?? 0) + ms;
    if (window && (t < window.from * 1000 || t >= window.to * 1000)) continue;
    s.busyMs += ms;
    add(s.self, functionKey(node.callFrame), ms);
    add(s.modules, moduleOf(node.callFrame), ms);
    const seen = new Set<string>();
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const key = functionKey((byId.get(id) as ProfileNode).callFrame);
      if (!seen.has(key)) add(s.inclusive, key, ms);
      seen.add(key);
    }
  }
  s.totalMs = t;
  return s;
}

function top(title: string, m: Map<string, number>, busyMs: number, n: number): BenchTable {
  const rows = [...m].sort((a, b) => b[1] - a[1]).slice(0, n);
  return { title, columns: ['ms', '% of busy', 'where'], rows: rows.map(([k, ms]) => [Math.round(ms), Math.round((ms / busyMs) * 1000) / 10, k]) };
}

function main(): void {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '25' }, window: { type: 'string' }, inclusive: { type: 'boolean', default: false } } });
  if (positionals.length === 0) {
    process.stderr.write('usage: npx tsx bench/profile-summary.ts <file.cpuprofile | dir>... [--top 25] [--window <from s>-<to s>] [--inclusive]\n');
    process.exit(2);
  }
  const files = positionals.flatMap((p) => (statSync(p).isDirectory() ? readdirSync(p).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(p, f)) : [p]));
  const [from, to] = (values.window ?? '').split('-').map(Number);
  const window = values.window ? { from, to } : undefined;
  const n = Number(values.top);
  for (const file of files) {
    const s = summarise(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, window);
    const out = process.stdout;
    out.write(`\n== ${file}\n`);
    out.write(`profiled ${(s.totalMs / 1000).toFixed(1)} s; busy ${(s.busyMs / 1000).toFixed(1)} s${window ? ` in ${from}-${to} s` : ''}\n`);
    out.write(`busy ms per second: ${s.timeline.map((ms) => Math.round(ms ?? 0)).join(' ')}\n\n`);
    out.write(formatTable(top('self time by module', s.modules, s.busyMs, n)));
    out.write(formatTable(top('self time by function', s.self, s.busyMs, n)));
    if (values.inclusive) out.write(formatTable(top('inclusive time by function (callees included)', s.inclusive, s.busyMs, n)));
  }
}

main();
