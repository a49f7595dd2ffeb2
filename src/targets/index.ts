// Storage back-ends behind the core Target interface, the URL parser that picks one, and a
// fault-injecting wrapper for tests (FaultyTarget, switched on by VMBAK_TEST_FAULTS).
export { LocalTarget } from './local-target.ts';
export { ThrottledTarget } from './throttled-target.ts';
export { FaultyTarget } from './faulty-target.ts';
export { FaultPlan, FAULTS_ENV_VAR, faultPlanFromEnv, parseFaultRules, type FaultRule, type FaultOp } from './fault-rules.ts';
export { openTarget } from './open-target.ts';
export { parseTargetLocation, type TargetLocation } from './target-url.ts';
export { parseTargetOptions, DEFAULT_TARGET_OPTIONS, type TargetOptions, type TargetSecrets } from './target-options.ts';
