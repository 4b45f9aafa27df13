import type { AuditTrail } from '../core/audit/index.js';
import type { EventBus } from '../core/bus/index.js';
import type { Logger } from '../core/logger.js';
import type { Registry } from '../core/metrics.js';
import type { Storage } from '../core/storage/index.js';
import type { EnforcementConfig } from './config.js';
import { InMemoryEnforcementPoint } from './in-memory-point.js';
import type { CommandRunner } from './nftables/command-runner.js';
import { NftablesEnforcementPoint } from './nftables/nftables-point.js';
import { RadiusEnforcementPoint } from './radius/radius-point.js';
import { SegmentModel } from './segments.js';
import { EnforcementService } from './service.js';
import type { EnforcementPoint } from './types.js';

export interface EnforcementDependencies {
  storage: Storage;
  audit: AuditTrail;
  bus: EventBus;
  logger: Logger;
  metrics: Registry;
  /** Runs nft; defaults to `enforcement.nftables.command` on this host. */
  nftRunner?: CommandRunner;
}

/** Builds the enforcement service with the points that `config.kind` names. */
export function createEnforcementService(
  config: EnforcementConfig,
  deps: EnforcementDependencies,
): EnforcementService {
  const model = new SegmentModel(config.segments, config.services);
  const kinds = Array.isArray(config.kind) ? config.kind : [config.kind];
  const logger = deps.logger.child({ component: 'enforcement' });
  const points: EnforcementPoint[] = kinds.map((kind) => {
    switch (kind) {
      case 'in-memory':
        return new InMemoryEnforcementPoint();
      case 'nftables':
        return new NftablesEnforcementPoint({
          config: config.nftables,
          model,
          logger,
          ...(deps.nftRunner === undefined ? {} : { run: deps.nftRunner }),
        });
      case 'radius':
        return new RadiusEnforcementPoint({
          config: config.radius,
          model,
          logger,
          metrics: deps.metrics,
          audit: deps.audit,
        });
    }
  });
  return new EnforcementService({
    storage: deps.storage,
    audit: deps.audit,
    bus: deps.bus,
    logger,
    metrics: deps.metrics,
    model,
    points,
    retry: config.retry,
  });
}
