// Storage back-ends behind the core Target interface, and the URL parser that picks one.
export { LocalTarget } from './local-target.ts';
export { openTarget } from './open-target.ts';
