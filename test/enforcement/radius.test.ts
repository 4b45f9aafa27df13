import { NasPortType, RadiusCode, readVlan } from '../../src/enforcement/radius/packet.js';
import type { RadiusEnforcementPoint } from '../../src/enforcement/radius/radius-point.js';
import { runEnforcerContract } from './contract.js';
import {
  makeRadiusPoint,
  mabAttributes,
  sendAccessRequest,
  startNasListener,
} from './radius-support.js';
import { enforcementConfig, startService, type ServiceHarness } from './support.js';
import { createTestDatabase } from '../support/storage.js';

runEnforcerContract('radius', async () => {
  const config = enforcementConfig({
    radius: { unknownDevice: 'reject' },
    retry: { maxAttempts: 2, initialBackoffMs: 5, maxBackoffMs: 10 },
  });
  const database = await createTestDatabase('sqlite');
  const nas = await startNasListener();
  let point: RadiusEnforcementPoint = makeRadiusPoint(config, database, { coaPort: nas.port });
  let harness: ServiceHarness = await startService([point], { config, database });
  const segmentOfVlan = (vlan: number | undefined) =>
    [
      ['provisioning', config.segments.provisioning.vlan],
      ['quarantine', config.segments.quarantine.vlan],
      ['isolation', config.segments.isolation.vlan],
      ...config.segments.production.map((segment) => [segment.name, segment.vlan] as const),
    ].find(([, value]) => value === vlan)?.[0] as string | undefined;
  return {
    harness: () => harness,
    async observe(mac) {
      // The contract's devices have a wired and a wireless MAC, so ask as both port types.
      for (const portType of [NasPortType.Ethernet, NasPortType.Wireless80211]) {
        const answer = await sendAccessRequest(
          point.server.address.port,
          mabAttributes(mac, portType),
        );
        if (answer?.code === RadiusCode.AccessAccept) {
          return segmentOfVlan(readVlan(answer));
        }
      }
      return undefined;
    },
    async restart() {
      await harness.service.stop();
      await harness.bus.stop();
      point = makeRadiusPoint(config, database, { coaPort: nas.port });
      harness = await startService([point], { config, database });
    },
    async cleanup() {
      await harness.dispose();
      await nas.close();
    },
  };
});
