export { loadConfig, envNameFor, type LoadConfigOptions, type ConfigProblem } from './load.js';
export { ConfigSchema, type MedwardConfig } from './schema.js';
