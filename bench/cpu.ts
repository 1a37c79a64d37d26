import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU time used by each process of the machine, read from /proc (Linux): snapshot before and after a
 * phase, and `cpuSpent` says where the machine's time went (this process, other node processes by pid,
 * postgres, redis-server, nats-server). The machine's own servers (started by init) are `postgres`,
 * `redis`, `nats`; a private server someone else's test started is `<kind> <its pid>`, so it is not
 * mistaken for the shared one. Empty where /proc is missing.
 */
export type CpuSnapshot = Map<string, number>;

const TICKS_PER_S = 100;

interface ProcStat {
  ppid: string;
  comm: string;
  ticks: number;
}

function serverKind(comm: string): string | undefined {
  if (comm.startsWith('postgres')) return 'postgres';
  if (comm.startsWith('redis')) return 'redis';
  if (comm.startsWith('nats')) return 'nats';
  return undefined;
}

function groupOf(pid: string, stats: Map<string, ProcStat>): string {
  const { comm } = stats.get(pid) as ProcStat;
  if (pid === String(process.pid)) return 'bench process';
  const kind = serverKind(comm);
  if (kind) {
    // Up to the server's first process (a postgres backend's postmaster); init's child is the machine's.
    let root = pid;
    for (let up = stats.get(root)?.ppid; up && stats.has(up) && serverKind(stats.get(up)!.comm) === kind; up = stats.get(root)?.ppid) root = up;
    const parent = stats.get(root)?.ppid;
    return parent === '1' || parent === '0' ? kind : `${kind} ${root}`;
  }
  if (comm.startsWith('node')) return `node ${pid}`;
  return 'other';
}

export function cpuSnapshot(): CpuSnapshot {
  const out: CpuSnapshot = new Map();
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
  } catch {
    return out;
  }
  const stats = new Map<string, ProcStat>();
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      stats.set(pid, { ppid: fields[1], comm, ticks: Number(fields[11]) + Number(fields[12]) }); // utime + stime
    } catch {
      /* the process ended meanwhile */
    }
  }
  for (const [pid, stat] of stats) {
    const group = groupOf(pid, stats);
    out.set(group, (out.get(group) ?? 0) + stat.ticks);
  }
  return out;
}

/** CPU milliseconds per group between two snapshots (processes that ended in between are not counted). */
export function cpuSpent(before: CpuSnapshot, after: CpuSnapshot, names: Record<string, string> = {}): Record<string, number> {
  const spent: Record<string, number> = {};
  for (const [group, ticks] of after) {
    const ms = ((ticks - (before.get(group) ?? 0)) * 1000) / TICKS_PER_S;
    if (ms > 0 && group !== 'other') spent[names[group] ?? group] = ms;
  }
  return spent;
}

/** The whole machine's CPU ticks (every core, every process) from /proc/stat: busy and total. */
export function machineCpu(): { busy: number; total: number } {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const total = fields.reduce((a, b) => a + b, 0);
    const idle = fields[3] + fields[4]; // idle + iowait
    return { busy: total - idle, total };
  } catch {
    return { busy: NaN, total: NaN };
  }
}
