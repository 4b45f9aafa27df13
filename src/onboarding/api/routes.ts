import { Type } from '@sinclair/typebox';
import type { ApiRoutePlugin } from '../../api/types.js';
import { errorResponses } from '../../api/errors.js';
import { currentContext, systemActor } from '../../core/context.js';
import type { Storage } from '../../core/storage/index.js';
import {
  DEVICE_ID_PATTERN,
  DeviceSchema,
  type Device,
  type InventoryService,
} from '../../inventory/index.js';
import type { AuthorisationService } from '../authorisation/authorisation-service.js';
import { onboardingStates } from '../lifecycle/transitions.js';
import type { SightingRegistry } from '../lifecycle/sightings.js';
import type { RegistrationService } from '../registration/registration-service.js';

export interface OnboardingRouteDependencies {
  storage: Storage;
  inventory: InventoryService;
  sightings: SightingRegistry;
  authorisation: AuthorisationService;
  registration: RegistrationService;
}

const SightingSchema = Type.Object(
  {
    id: Type.String(),
    manufacturer: Type.Union([Type.String(), Type.Null()]),
    model: Type.Union([Type.String(), Type.Null()]),
    serialNumber: Type.Union([Type.String(), Type.Null()]),
    certificateFingerprint: Type.Union([Type.String(), Type.Null()]),
    sourceAddress: Type.Union([Type.String(), Type.Null()]),
    reason: Type.String(),
    firstSeenAt: Type.String(),
    lastSeenAt: Type.String(),
    timesSeen: Type.Integer(),
    status: Type.String({ description: 'pending, approved or dismissed' }),
    decidedBy: Type.Union([Type.String(), Type.Null()]),
    decidedAt: Type.Union([Type.String(), Type.Null()]),
  },
  { additionalProperties: false },
);

const SightingParams = Type.Object(
  { id: Type.String({ pattern: '^[0-9a-f-]{36}$', description: 'Sighting UUID' }) },
  { additionalProperties: false },
);

const DeviceParams = Type.Object(
  { id: Type.String({ pattern: DEVICE_ID_PATTERN, description: 'Device UUID' }) },
  { additionalProperties: false },
);

const ApprovalBody = Type.Object(
  {
    manufacturer: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    model: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    serialNumber: Type.Optional(
      Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._:/+-]+$' }),
    ),
    deviceClass: Type.String({ pattern: '^[a-z0-9][a-z0-9._-]{0,62}$' }),
    productionSegment: Type.Optional(Type.String({ pattern: '^[a-z][a-z0-9-]{0,30}$' })),
    lifeSustaining: Type.Boolean(),
    criticality: Type.Union([
      Type.Literal('low'),
      Type.Literal('moderate'),
      Type.Literal('high'),
      Type.Literal('critical'),
    ]),
    hostnames: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 253 }), { maxItems: 8 }),
    ),
    reason: Type.String({
      minLength: 1,
      maxLength: 500,
      description: 'Why the device is approved',
    }),
  },
  { additionalProperties: false },
);

const ApprovalResponse = Type.Object(
  {
    sighting: SightingSchema,
    entryId: Type.String(),
    bootstrapSecret: Type.Optional(
      Type.Object(
        {
          secret: Type.String({
            description: 'Shown once; give it to the device for /simpleenroll',
          }),
          expiresAt: Type.String(),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

const LedgerEntrySchema = Type.Object(
  {
    deviceId: Type.String(),
    version: Type.Integer(),
    configuration: Type.Unknown(),
    before: Type.Unknown({
      description: 'The configuration of the version before; null for the first',
    }),
    configurationSha256: Type.String(),
    previousSha256: Type.Union([Type.String(), Type.Null()]),
    firmwareVersion: Type.Union([Type.String(), Type.Null()]),
    firmwareSha256: Type.Union([Type.String(), Type.Null()]),
    changedBy: Type.Object(
      { kind: Type.String(), id: Type.String() },
      { additionalProperties: false },
    ),
    cause: Type.String(),
    reason: Type.String(),
    jws: Type.String(),
    createdAt: Type.String(),
  },
  { additionalProperties: false },
);

const DriftSchema = Type.Object(
  {
    id: Type.Integer(),
    deviceId: Type.String(),
    kind: Type.String(),
    expected: Type.Union([Type.String(), Type.Null()]),
    reported: Type.String(),
    configurationVersion: Type.Union([Type.Integer(), Type.Null()]),
    detectedAt: Type.String(),
  },
  { additionalProperties: false },
);

const ListSummarySchema = Type.Object(
  {
    listId: Type.String(),
    version: Type.Integer(),
    issuedAt: Type.String(),
    expiresAt: Type.String(),
    source: Type.String(),
    etag: Type.Union([Type.String(), Type.Null()]),
    importedAt: Type.String(),
  },
  { additionalProperties: false },
);

/** Devices per onboarding state returned by GET /pending. */
const PENDING_DEVICE_LIMIT = 500;

/**
 * Fastify routes of the onboarding context under /api/v1/onboarding:
 * pending and unlisted devices, their approval, the configuration ledger,
 * drift findings, authorisation lists, and a retry of the production move.
 * Operators act, auditors read; importing a list is for admins.
 */
export function onboardingRoutes(deps: OnboardingRouteDependencies): ApiRoutePlugin {
  return {
    name: 'onboarding',
    prefix: '/api/v1/onboarding',
    plugin: (app) => {
      app.get(
        '/pending',
        {
          config: { allowedRoles: ['operator', 'auditor'] },
          schema: {
            tags: ['onboarding'],
            summary: 'List unlisted devices awaiting a decision and devices still onboarding',
            response: {
              200: Type.Object(
                { sightings: Type.Array(SightingSchema), devices: Type.Array(DeviceSchema) },
                { additionalProperties: false },
              ),
              ...errorResponses,
            },
          },
        },
        async () => {
          const devices: Device[] = [];
          for (const state of ['unknown', ...onboardingStates] as const) {
            devices.push(
              ...(await deps.inventory.list({ state, limit: PENDING_DEVICE_LIMIT })).items,
            );
          }
          return { sightings: await deps.sightings.list('pending', 500), devices };
        },
      );

      app.post(
        '/sightings/:id/approve',
        {
          config: { allowedRoles: ['operator'] },
          schema: {
            tags: ['onboarding'],
            summary:
              'Approve an unlisted device; returns a one-time bootstrap secret when it showed no certificate',
            params: SightingParams,
            body: ApprovalBody,
            response: { 200: ApprovalResponse, ...errorResponses },
          },
        },
        async (request) => {
          const actor = currentContext()?.actor ?? systemActor;
          const result = await deps.sightings.approve(request.params.id, request.body, actor);
          return {
            sighting: result.sighting,
            entryId: result.entry.entryId,
            ...(result.bootstrapSecret === undefined
              ? {}
              : { bootstrapSecret: result.bootstrapSecret }),
          };
        },
      );

      app.post(
        '/sightings/:id/dismiss',
        {
          config: { allowedRoles: ['operator'] },
          schema: {
            tags: ['onboarding'],
            summary: 'Close a sighting without authorising the device',
            params: SightingParams,
            body: Type.Object(
              { reason: Type.String({ minLength: 1, maxLength: 500 }) },
              { additionalProperties: false },
            ),
            response: { 200: SightingSchema, ...errorResponses },
          },
        },
        async (request) =>
          deps.sightings.dismiss(
            request.params.id,
            currentContext()?.actor ?? systemActor,
            request.body.reason,
          ),
      );

      app.get(
        '/devices/:id/configurations',
        {
          config: { allowedRoles: ['operator', 'auditor'] },
          schema: {
            tags: ['onboarding'],
            summary: "The device's configuration ledger, oldest version first",
            params: DeviceParams,
            response: {
              200: Type.Object(
                { versions: Type.Array(LedgerEntrySchema) },
                { additionalProperties: false },
              ),
              ...errorResponses,
            },
          },
        },
        async (request) => {
          await deps.inventory.get(request.params.id);
          const history = await deps.registration.configurationLedger.history(
            deps.storage.db,
            request.params.id,
          );
          return { versions: history };
        },
      );

      app.get(
        '/devices/:id/drift',
        {
          config: { allowedRoles: ['operator', 'auditor'] },
          schema: {
            tags: ['onboarding'],
            summary: 'Configuration and firmware drift findings of a device',
            params: DeviceParams,
            response: {
              200: Type.Object(
                { findings: Type.Array(DriftSchema) },
                { additionalProperties: false },
              ),
              ...errorResponses,
            },
          },
        },
        async (request) => {
          await deps.inventory.get(request.params.id);
          const findings = await deps.registration.configurationLedger.driftFindings(
            deps.storage.db,
            request.params.id,
          );
          return { findings };
        },
      );

      app.post(
        '/devices/:id/segment-move',
        {
          config: { allowedRoles: ['operator'] },
          schema: {
            tags: ['onboarding'],
            summary: 'Retry moving a configured device to its production segment',
            params: DeviceParams,
            response: {
              200: Type.Object(
                {
                  status: Type.String(),
                  segment: Type.Union([Type.String(), Type.Null()]),
                  reason: Type.Union([Type.String(), Type.Null()]),
                },
                { additionalProperties: false },
              ),
              ...errorResponses,
            },
          },
        },
        async (request) => deps.registration.retrySegmentMove(request.params.id),
      );

      app.get(
        '/authorisation-lists',
        {
          config: { allowedRoles: ['operator', 'auditor'] },
          schema: {
            tags: ['onboarding'],
            summary: 'The stored authorisation lists and their versions',
            response: {
              200: Type.Object(
                { lists: Type.Array(ListSummarySchema) },
                { additionalProperties: false },
              ),
              ...errorResponses,
            },
          },
        },
        async () => ({ lists: await deps.authorisation.lists() }),
      );

      app.post(
        '/authorisation-lists',
        {
          config: { allowedRoles: [] },
          schema: {
            tags: ['onboarding'],
            summary: 'Import a signed authorisation list (the envelope as JSON text)',
            body: Type.Object(
              { envelope: Type.String({ minLength: 2, maxLength: 16 * 1024 * 1024 }) },
              { additionalProperties: false },
            ),
            response: {
              200: Type.Object(
                {
                  status: Type.String(),
                  listId: Type.String(),
                  version: Type.Integer(),
                  previousVersion: Type.Union([Type.Integer(), Type.Null()]),
                  devices: Type.Integer(),
                  revocations: Type.Integer(),
                },
                { additionalProperties: false },
              ),
              ...errorResponses,
            },
          },
        },
        async (request) =>
          deps.authorisation.importList(request.body.envelope, { kind: 'file', location: 'api' }),
      );
      return Promise.resolve();
    },
  };
}
