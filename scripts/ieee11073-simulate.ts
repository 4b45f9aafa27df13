// Runs `medward simulate agents` on its own, for the benchmark, which puts
// the simulated agents in a process of their own beside the manager.
import { simulateCommand } from '../src/cli/commands/simulate.js';

const command = simulateCommand().exitOverride();
try {
  await command.parseAsync(process.argv);
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
}
