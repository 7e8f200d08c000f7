/**
 * What the benchmark reads about a broker's process from /proc (Linux), the same way for the hub,
 * bare Aedes and Mosquitto: resident memory, CPU time, open files; and this process's file limit.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Resident set size in bytes. */
export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0) * 1024;
}

// USER_HZ: the unit of utime/stime in /proc/<pid>/stat; 100 on every Linux the kernel ABI allows
const TICKS_PER_SECOND = 100;

/** User + system CPU seconds the process has used so far. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // fields after the command name (which may hold spaces, hence from the last ')'): utime is 14th, stime 15th
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/** Open file descriptors (each MQTT connection is one). */
export function openFiles(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** This process's limit on open files (children inherit it). */
export function fileLimit(): { soft: number; hard: number } {
  const line = readFileSync('/proc/self/limits', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Max open files'));
  const [soft, hard] = (line?.match(/\d+|unlimited/g) ?? []).map((v) =>
    v === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(v),
  );
  return { soft: soft ?? 1024, hard: hard ?? 1024 };
}
