import { InMemoryEnforcementPoint } from '../../src/enforcement/in-memory-point.js';
import { runEnforcerContract } from './contract.js';
import { startService, type ServiceHarness } from './support.js';

runEnforcerContract('in-memory', async () => {
  let point = new InMemoryEnforcementPoint();
  let harness: ServiceHarness = await startService([point]);
  return {
    harness: () => harness,
    observe: (mac) => Promise.resolve(point.lookupMac(mac)?.segmentName),
    async restart() {
      await harness.service.stop();
      point = new InMemoryEnforcementPoint();
      const database = harness.database;
      await harness.bus.stop();
      harness = await startService([point], { database });
    },
    cleanup: () => harness.dispose(),
  };
});
