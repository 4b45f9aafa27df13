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
