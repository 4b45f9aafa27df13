export { ApiServer, createApiServer, type ApiApp } from './server.js';
export { AuthFailureLimiter } from './auth.js';
export { ErrorBodySchema, errorResponses } from './errors.js';
export type { ApiConfig, ApiRoutePlugin, ApiServerDeps, ReadinessCheck } from './types.js';
