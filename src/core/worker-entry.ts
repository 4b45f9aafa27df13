/**
 * Locates the entry module of a worker thread. medward runs its TypeScript
 * sources through tsx, and the tsx command line does not pass its loader on
 * to worker threads, so a worker that runs a `.ts` module must register
 * tsx's loader before it imports the module. Compiled JavaScript runs as is.
 */

// This module's own extension shows whether the sources run as TypeScript.
const runsTypeScript = import.meta.url.endsWith('.ts');

export interface WorkerEntry {
  /** The first argument of `new Worker`. */
  entry: URL | string;
  /** The `eval` option of `new Worker`: true when `entry` is a script. */
  eval: boolean;
}

/** Returns the worker entry for the module at `base` plus `.ts` or `.js`. */
export function workerEntry(base: URL): WorkerEntry {
  const moduleUrl = new URL(`${base.href}.${runsTypeScript ? 'ts' : 'js'}`);
  if (!runsTypeScript) {
    return { entry: moduleUrl, eval: false };
  }
  const tsxApi = import.meta.resolve('tsx/esm/api');
  return {
    entry:
      `import(${JSON.stringify(tsxApi)}).then((tsx) => { tsx.register(); ` +
      `return import(${JSON.stringify(moduleUrl.href)}); });`,
    eval: true,
  };
}
