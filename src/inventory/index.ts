export {
  InventoryService,
  DEFAULT_PAGE_LIMIT,
  MAX_PAGE_LIMIT,
  type DecommissionOptions,
  type InventoryServiceOptions,
} from './inventory-service.js';
export { DeviceRepository, type InventoryExecutor } from './device-repository.js';
export { inventoryMigrations } from './migrations.js';
export {
  ClassificationLevelSchema,
  CriticalityLevelSchema,
  DeviceCreateSchema,
  DevicePatchSchema,
  DeviceSchema,
  DeviceStateSchema,
  DEVICE_ID_PATTERN,
  SEGMENT_PATTERN,
  classificationLevels,
  criticalityLevels,
  deviceStates,
  type ClassificationLevel,
  type CriticalityLevel,
  type Device,
  type DeviceCreateInput,
  type DevicePatch,
  type DeviceState,
  type SoftwareComponent,
} from './schema.js';
export type { DeviceFilter, DeviceListQuery, DevicePage } from './types.js';
