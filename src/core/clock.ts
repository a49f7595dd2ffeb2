// Time behind a small interface: lock expiry and GC grace periods depend on it, and tests
// move it.

export interface Clock {
  nowMs(): number;
}

export const systemClock: Clock = { nowMs: () => Date.now() };
