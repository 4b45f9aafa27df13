export {
  createOnboarding,
  type Onboarding,
  type OnboardingDependencies,
} from './create-onboarding.js';
export { OnboardingSection, type OnboardingConfig } from './config.js';
export { onboardingMigrations } from './migrations.js';
export { onboardingRoutes, type OnboardingRouteDependencies } from './api/routes.js';
export {
  ONBOARDING_ALERT_SUBJECT,
  ONBOARDING_DRIFT_SUBJECT,
  ONBOARDING_STATE_SUBJECT,
  ONBOARDING_UNLISTED_SUBJECT,
  type DeviceStateChanged,
  type DriftDetected,
  type OnboardingAlert,
  type UnlistedDeviceSeen,
} from './events.js';
export { readSbom, type SbomDocument } from './sbom/index.js';
