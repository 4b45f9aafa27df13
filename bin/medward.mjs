#!/usr/bin/env node
// Runs the medward CLI from its TypeScript sources through tsx, so a clone
// works without a build step.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
