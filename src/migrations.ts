import { accessMigrations } from './access/index.js';
import { auditMigrations } from './core/audit/index.js';
import { enforcementMigrations } from './enforcement/store.js';
import { fhirMigrations } from './fhir/migrations.js';
import { ieee11073Migrations } from './ieee11073/store/tables.js';
import type { MedwardMigration } from './core/storage/index.js';
import { inventoryMigrations } from './inventory/index.js';
import { onboardingMigrations } from './onboarding/migrations.js';
import { onem2mMigrations } from './onem2m/migrations.js';

/** Every context's migrations; the migrator applies them in name order. */
export const allMigrations: readonly MedwardMigration[] = [
  ...auditMigrations,
  ...onem2mMigrations,
  ...accessMigrations,
  ...inventoryMigrations,
  ...enforcementMigrations,
  ...ieee11073Migrations,
  ...fhirMigrations,
  ...onboardingMigrations,
];
