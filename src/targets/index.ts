// Storage back-ends behind the core Target interface, and the URL parser that picks one.
export { LocalTarget } from './local-target.ts';
export { ThrottledTarget } from './throttled-target.ts';
export { openTarget } from './open-target.ts';
export { parseTargetLocation, type TargetLocation } from './target-url.ts';
export { parseTargetOptions, DEFAULT_TARGET_OPTIONS, type TargetOptions } from './target-options.ts';
