export { AuditTrail, computeAuditHash, type Executor, type AuditQuery } from './trail.js';
export { verifyAuditChain, type ChainVerification, type ChainProblem } from './verify.js';
export { exportAuditTrail, type AuditExportFormat } from './export.js';
export { toFhirAuditEvent, type FhirAuditEvent } from './fhir.js';
export { auditMigrations } from './migrations.js';
export {
  AuditOutcome,
  GENESIS_HASH,
  type AuditAction,
  type AuditEntry,
  type AuditRecord,
  type AuditTarget,
} from './types.js';
