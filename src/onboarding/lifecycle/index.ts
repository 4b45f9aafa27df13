export {
  DeviceLifecycle,
  type DeviceLifecycleOptions,
  type TransitionRequest,
  type TransitionResult,
} from './device-lifecycle.js';
export { ListRevocationHandler, revocationTarget } from './revocation-handler.js';
export {
  SightingRegistry,
  type ApprovalInput,
  type ApprovalResult,
  type Sighting,
  type SightingReport,
} from './sightings.js';
export { StuckStateChecker, type StuckDevice } from './stuck-state-checker.js';
export {
  assertTransitionAllowed,
  isTransitionAllowed,
  lifecycleTransitions,
  onboardingStates,
} from './transitions.js';
