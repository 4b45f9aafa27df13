export {
  Storage,
  parseStorageUrl,
  redactUrl,
  type DialectName,
  type StorageOptions,
} from './database.js';
export { migrateToLatest, withSerialKey, type MedwardMigration } from './migrator.js';
export { translateDatabaseError } from './errors.js';
