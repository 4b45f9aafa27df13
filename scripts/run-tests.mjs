#!/usr/bin/env node
// Runs medward's tests with node's built-in test runner through tsx.
// Node 20 has no glob for --test, so this script lists the files itself:
// every *.test.ts under test/, or only those whose path contains one of the
// words given as arguments (`npm test -- storage audit`).
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;

/** @param {string} dir @returns {string[]} */
function listTests(dir) {
  const files = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) {
      files.push(...listTests(path));
    } else if (entry.endsWith('.test.ts')) {
      files.push(relative(root, path));
    }
  }
  return files.sort();
}

const filters = process.argv.slice(2).filter((arg) => !arg.startsWith('-'));
const passThrough = process.argv.slice(2).filter((arg) => arg.startsWith('-'));
const files = listTests(join(root, 'test')).filter(
  (file) => filters.length === 0 || filters.some((word) => file.includes(word)),
);
if (files.length === 0) {
  console.error(`no test files match ${filters.join(', ')}`);
  process.exit(1);
}

const child = spawn(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-reporter=spec', ...passThrough, ...files],
  { cwd: root, stdio: 'inherit' },
);
child.on('exit', (code, signal) => process.exit(signal ? 1 : (code ?? 1)));
