import { readFileSync } from 'node:fs';
import { cpus, totalmem, platform, release, arch } from 'node:os';

/** One measured figure, held against its target when it has one. */
export interface Figure {
  name: string;
  value: number;
  unit: string;
  target?: { comparison: '>=' | '<='; value: number };
}

export interface Benchmark {
  name: string;
  description: string;
  run(): Promise<Figure[]>;
}

export interface MachineInfo {
  cpuModel: string;
  cpuCount: number;
  memoryGiB: number;
  platform: string;
  node: string;
}

export interface BenchmarkResult {
  benchmark: string;
  description: string;
  ranAt: string;
  durationMs: number;
  machine: MachineInfo;
  figures: (Figure & { meetsTarget: boolean | null })[];
}

export function describeMachine(): MachineInfo {
  const cpuList = cpus();
  return {
    cpuModel: cpuList[0]?.model ?? 'unknown',
    cpuCount: cpuList.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    platform: `${platform()} ${release()} ${arch()}`,
    node: process.version,
  };
}

export function meetsTarget(figure: Figure): boolean | null {
  if (figure.target === undefined) {
    return null;
  }
  return figure.target.comparison === '>='
    ? figure.value >= figure.target.value
    : figure.value <= figure.target.value;
}

/** Returns the q-quantile (0..1) of the samples by nearest rank. */
export function quantile(samples: readonly number[], q: number): number {
  if (samples.length === 0) {
    return Number.NaN;
  }
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank] ?? Number.NaN;
}

/**
 * Calls `operation` repeatedly for about `durationMs` after a warm-up and
 * returns the rate in operations per second.
 */
export function measureRate(operation: () => void, durationMs = 2000, warmupMs = 300): number {
  const warmupEnd = performance.now() + warmupMs;
  while (performance.now() < warmupEnd) {
    operation();
  }
  let count = 0;
  const start = performance.now();
  let now = start;
  while (now - start < durationMs) {
    for (let i = 0; i < 1000; i += 1) {
      operation();
    }
    count += 1000;
    now = performance.now();
  }
  return count / ((now - start) / 1000);
}

/**
 * CPU time (user and system) the calling thread has used, in milliseconds,
 * read from /proc/thread-self/stat; undefined where that file is missing
 * (outside Linux). process.cpuUsage() counts every thread of the process,
 * so it cannot tell a server thread from a load client in a worker.
 */
export function threadCpuMs(): number | undefined {
  let stat: string;
  try {
    stat = readFileSync('/proc/thread-self/stat', 'utf8');
  } catch {
    return undefined;
  }
  // Fields after the command name, which is in parentheses and may contain spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  // Linux reports these in clock ticks (USER_HZ), which are 1/100 s on x86 and Arm.
  return Number.isFinite(ticks) ? ticks * 10 : undefined;
}
