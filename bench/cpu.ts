import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU time used by each process of the machine, read from /proc (Linux): snapshot before and after a
 * phase, and `cpuSpent` says where the machine's time went (this process, other node processes by pid,
 * postgres, redis-server, nats-server). Empty where /proc is missing.
 */
export type CpuSnapshot = Map<string, number>;

const TICKS_PER_S = 100;

function groupOf(pid: string, comm: string): string {
  if (pid === String(process.pid)) return 'bench process';
  if (comm.startsWith('postgres')) return 'postgres';
  if (comm.startsWith('redis')) return 'redis';
  if (comm.startsWith('nats')) return 'nats';
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
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime
      const group = groupOf(pid, comm);
      out.set(group, (out.get(group) ?? 0) + ticks);
    } catch {
      /* the process ended meanwhile */
    }
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
