import type { ApiRoutePlugin } from '../api/types.js';
import type { AuditTrail } from '../core/audit/index.js';
import type { EventBus } from '../core/bus/index.js';
import type { Component } from '../core/lifecycle.js';
import type { Logger } from '../core/logger.js';
import type { Registry } from '../core/metrics.js';
import type { Storage } from '../core/storage/index.js';
import type { SegmentEnforcer } from '../enforcement/index.js';
import type { InventoryService } from '../inventory/index.js';
import { onboardingRoutes } from './api/routes.js';
import { AuthorisationService } from './authorisation/authorisation-service.js';
import { AuthorityPoller } from './authorisation/authority-client.js';
import { loadAuthorityKeys } from './authorisation/signature.js';
import { CertificateAuthority } from './ca/certificate-authority.js';
import { loadOrCreateCaMaterial, resolveDataPath } from './ca/ca-material.js';
import type { OnboardingConfig } from './config.js';
import { EnrolmentService } from './est/enrolment-service.js';
import { CRL_PATH, EstServer } from './est/est-server.js';
import { DeviceLifecycle } from './lifecycle/device-lifecycle.js';
import { ListRevocationHandler } from './lifecycle/revocation-handler.js';
import { SightingRegistry } from './lifecycle/sightings.js';
import { StuckStateChecker } from './lifecycle/stuck-state-checker.js';
import { RegistrationService } from './registration/registration-service.js';
import { TransactionBatcher } from './transaction-batcher.js';

/** Name of the start step that warns when no list authorises devices. */
export const AUTHORISATION_SOURCE_CHECK = 'authorisation-source-check';

/** Concurrent enrolments committed together; one commit (an fsync on SQLite) serves them all. */
const ENROLMENTS_PER_TRANSACTION = 64;

export interface OnboardingDependencies {
  config: OnboardingConfig;
  /** Base of relative paths in the onboarding section (`dataDir` of the configuration). */
  dataDir: string;
  siteId: string;
  storage: Storage;
  audit: AuditTrail;
  bus: EventBus;
  logger: Logger;
  metrics: Registry;
  inventory: InventoryService;
  /** The enforcement service that moves devices between segments. */
  enforcement: SegmentEnforcer;
  now?: () => Date;
}

/** The onboarding context, built and wired; add `components` to the lifecycle in order. */
export interface Onboarding {
  ca: CertificateAuthority;
  authorisation: AuthorisationService;
  lifecycle: DeviceLifecycle;
  sightings: SightingRegistry;
  enrolment: EnrolmentService;
  registration: RegistrationService;
  provisioningListener: EstServer;
  poller: AuthorityPoller | undefined;
  stuckStateChecker: StuckStateChecker;
  /**
   * Start order: the authority poller (imports the cached list first), a check
   * that logs when no list can authorise devices, the listener, the checker.
   */
  components: Component[];
  /** API routes for the API server's routePlugins. */
  routes: ApiRoutePlugin;
}

/**
 * Returns a start step that warns when no signed list authorises devices:
 * none is stored, and no authority URL with a key to verify its lists is
 * configured. Onboarding still starts, because an operator can approve
 * unlisted devices through the API.
 */
function authorisationSourceCheck(
  authorisation: AuthorisationService,
  config: OnboardingConfig,
  logger: Logger,
): Component {
  return {
    name: AUTHORISATION_SOURCE_CHECK,
    start: async () => {
      const keys = config.authority.publicKeyFiles.length;
      const url = config.authority.url;
      if ((url !== undefined && keys > 0) || (await authorisation.lists()).length > 0) {
        return;
      }
      logger.warn(
        {
          authorityUrl: url ?? null,
          publicKeyFiles: keys,
          importRoute: 'POST /api/v1/onboarding/authorisation-lists',
        },
        'no authorisation list: only devices an operator approves can enrol until a signed list ' +
          'is imported or onboarding.authority.url is set, with the signing key in ' +
          'onboarding.authority.publicKeyFiles',
      );
    },
    stop: () => Promise.resolve(),
  };
}

/**
 * Builds the onboarding context from configuration: loads (or on first start
 * creates) the issuing CA under dataDir, reads the authority keys, and wires
 * the authorisation lists, the lifecycle state machine, EST enrolment,
 * registration and the provisioning listener. Nothing listens until the
 * components start.
 */
export function createOnboarding(deps: OnboardingDependencies): Onboarding {
  const { config, storage, audit, bus, inventory, enforcement } = deps;
  const logger = deps.logger.child({ component: 'onboarding' });
  const now = deps.now ?? (() => new Date());
  const listenerUrl =
    config.provisioning.publicUrl ??
    `https://${config.provisioning.host}:${config.provisioning.port}`;
  const ca = new CertificateAuthority({
    material: loadOrCreateCaMaterial({ config: config.ca, dataDir: deps.dataDir, logger, now }),
    storage,
    audit,
    logger,
    certificates: config.certificates,
    crlUrl: `${listenerUrl}${CRL_PATH}`,
    now,
  });
  const lifecycle = new DeviceLifecycle({ storage, audit, logger, bus, now });
  const authorisation = new AuthorisationService({
    storage,
    audit,
    logger,
    keys: loadAuthorityKeys(
      config.authority.publicKeyFiles.map((file) => resolveDataPath(deps.dataDir, file)),
    ),
    bus,
    now,
  });
  const sightings = new SightingRegistry({
    storage,
    audit,
    logger,
    authorisation,
    bootstrapSecretLifetimeMs: config.certificates.bootstrapSecretLifetimeHours * 3_600_000,
    rateLimit: config.sightings,
    bus,
    metrics: deps.metrics,
    now,
  });
  const registration = new RegistrationService({
    storage,
    audit,
    logger,
    inventory,
    lifecycle,
    ca,
    authorisation,
    enforcement,
    profiles: config.profiles,
    siteId: deps.siteId,
    sbomLimits: config.sbom,
    renewalWindowHours: config.certificates.renewalWindowHours,
    bus,
    now,
  });
  authorisation.setRevocationHandler(
    new ListRevocationHandler({
      lifecycle,
      ca,
      logger,
      onSuspended: (deviceId, reason) => registration.quarantine(deviceId, reason),
    }),
  );
  const enrolment = new EnrolmentService({
    storage,
    batcher: new TransactionBatcher({ storage, logger, maxBatch: ENROLMENTS_PER_TRANSACTION }),
    bus,
    audit,
    logger,
    inventory,
    lifecycle,
    ca,
    authorisation,
    sightings,
    channelBinding: config.provisioning.csrChannelBinding,
    now,
  });
  const provisioningListener = new EstServer({
    config: config.provisioning,
    ca,
    enrolment,
    registration,
    storage,
    audit,
    logger,
    renewalWindowMs: config.certificates.renewalWindowHours * 3_600_000,
    // A fact sheet nests a few levels around its SBOM.
    maxJsonDepth: config.sbom.maxDepth + 16,
    metrics: deps.metrics,
    now,
  });
  const authorityUrl = config.authority.url;
  const poller =
    authorityUrl === undefined
      ? undefined
      : new AuthorityPoller({
          config: {
            ...config.authority,
            url: authorityUrl,
            ...(config.authority.tlsCaFile === undefined
              ? {}
              : { tlsCaFile: resolveDataPath(deps.dataDir, config.authority.tlsCaFile) }),
          },
          cacheFile: resolveDataPath(deps.dataDir, config.authority.cacheFile),
          service: authorisation,
          logger,
        });
  const stuckStateChecker = new StuckStateChecker({
    inventory,
    logger,
    timeoutMs: config.stuckState.timeoutMs,
    checkIntervalMs: config.stuckState.checkIntervalMs,
    bus,
    now,
  });
  return {
    ca,
    authorisation,
    lifecycle,
    sightings,
    enrolment,
    registration,
    provisioningListener,
    poller,
    stuckStateChecker,
    components: [
      ...(poller === undefined ? [] : [poller]),
      authorisationSourceCheck(authorisation, config, logger),
      provisioningListener,
      stuckStateChecker,
    ],
    routes: onboardingRoutes({ storage, inventory, sightings, authorisation, registration }),
  };
}
