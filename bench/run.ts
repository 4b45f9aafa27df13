// Runs medward's benchmarks: every bench/*.bench.ts, or those whose names are
// given as arguments (`npm run bench -- ieee11073-decode`). Each writes
// bench/results/<name>.json; docs/benchmarks.md is rewritten from all results.
import { readdirSync, readFileSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describeMachine, meetsTarget, type Benchmark, type BenchmarkResult } from './harness.js';

const benchDir = new URL('.', import.meta.url).pathname;
const resultsDir = join(benchDir, 'results');
const docsPath = join(benchDir, '..', 'docs', 'benchmarks.md');

async function loadBenchmarks(names: string[]): Promise<Benchmark[]> {
  const files = readdirSync(benchDir)
    .filter((file) => file.endsWith('.bench.ts'))
    .sort();
  const benchmarks: Benchmark[] = [];
  for (const file of files) {
    const module = (await import(pathToFileURL(join(benchDir, file)).href)) as {
      benchmark?: Benchmark;
    };
    if (module.benchmark === undefined) {
      throw new Error(`${file} does not export a benchmark; export const benchmark: Benchmark`);
    }
    if (names.length === 0 || names.includes(module.benchmark.name)) {
      benchmarks.push(module.benchmark);
    }
  }
  const unknown = names.filter((name) => !benchmarks.some((b) => b.name === name));
  if (unknown.length > 0) {
    throw new Error(`unknown benchmark ${unknown.join(', ')}; see bench/*.bench.ts for names`);
  }
  return benchmarks;
}

function formatValue(value: number): string {
  if (Number.isInteger(value) || Math.abs(value) >= 100) {
    return Math.round(value).toLocaleString('en-US');
  }
  return value.toPrecision(3);
}

function renderSummary(results: BenchmarkResult[]): string {
  const lines = [
    '# Benchmarks',
    '',
    'Latest figures from `npm run bench`; each benchmark writes its raw result to',
    '`bench/results/<name>.json`. Rates are measured on the machine named in each result.',
    '',
  ];
  for (const result of results) {
    const machine = result.machine;
    lines.push(`## ${result.benchmark}`, '', result.description, '');
    lines.push(
      `Ran ${result.ranAt} on ${machine.cpuModel} (${machine.cpuCount} cores, ` +
        `${machine.memoryGiB} GiB), Node ${machine.node}.`,
      '',
      '| figure | value | unit | target | meets |',
      '|---|---:|---|---|---|',
    );
    for (const figure of result.figures) {
      const target = figure.target
        ? `${figure.target.comparison} ${formatValue(figure.target.value)}`
        : '';
      const meets = figure.meetsTarget === null ? '' : figure.meetsTarget ? 'yes' : 'NO';
      lines.push(
        `| ${figure.name} | ${formatValue(figure.value)} | ${figure.unit} | ${target} | ${meets} |`,
      );
    }
    lines.push('');
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const names = process.argv.slice(2);
  const benchmarks = await loadBenchmarks(names);
  mkdirSync(resultsDir, { recursive: true });
  let failedTargets = 0;
  for (const benchmark of benchmarks) {
    process.stdout.write(`running ${benchmark.name}\n`);
    const start = performance.now();
    const figures = await benchmark.run();
    const result: BenchmarkResult = {
      benchmark: benchmark.name,
      description: benchmark.description,
      ranAt: new Date().toISOString(),
      durationMs: Math.round(performance.now() - start),
      machine: describeMachine(),
      figures: figures.map((figure) => ({ ...figure, meetsTarget: meetsTarget(figure) })),
    };
    writeFileSync(
      join(resultsDir, `${benchmark.name}.json`),
      JSON.stringify(result, null, 2) + '\n',
    );
    for (const figure of result.figures) {
      const verdict = figure.meetsTarget === false ? '  (below target)' : '';
      process.stdout.write(
        `  ${figure.name}: ${formatValue(figure.value)} ${figure.unit}${verdict}\n`,
      );
      if (figure.meetsTarget === false) {
        failedTargets += 1;
      }
    }
  }
  const all = readdirSync(resultsDir)
    .filter((file) => file.endsWith('.json'))
    .sort()
    .map((file) => JSON.parse(readFileSync(join(resultsDir, file), 'utf8')) as BenchmarkResult);
  if (!existsSync(join(benchDir, '..', 'docs'))) {
    mkdirSync(join(benchDir, '..', 'docs'));
  }
  writeFileSync(docsPath, renderSummary(all));
  process.stdout.write(`wrote ${docsPath}; ${failedTargets} figure(s) below target\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(
    `benchmark run failed: ${error instanceof Error ? error.stack : String(error)}\n`,
  );
  process.exit(1);
});
