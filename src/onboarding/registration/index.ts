export {
  RegistrationService,
  type RegistrationResult,
  type RegistrationServiceOptions,
  type ReportResult,
  type SegmentMoveOutcome,
} from './registration-service.js';
export { ConfigurationLedger, type DriftFinding, type LedgerEntry } from './ledger.js';
export {
  FactSheetSchema,
  parseFactSheet,
  softwareComponentsOf,
  type FactSheet,
} from './fact-sheet.js';
export { resolveConfiguration, type DeviceConfiguration } from './profiles.js';
