// Which clock the console's times are shown in: the browser's local time (the default) or
// UTC, a choice kept in this browser (localStorage) from the settings page. formatTime reads
// it; the layout re-draws the page when it changes.

import { useSyncExternalStore } from 'react';

export type TimeZoneChoice = 'local' | 'UTC';

const KEY = 'vmbak.time-zone';
const listeners = new Set<() => void>();

function load(): TimeZoneChoice {
  try {
    return localStorage.getItem(KEY) === 'UTC' ? 'UTC' : 'local';
  } catch {
    return 'local';
  }
}

let current: TimeZoneChoice = load();

export const timeZoneChoice = (): TimeZoneChoice => current;

export function setTimeZoneChoice(choice: TimeZoneChoice): void {
  current = choice;
  try { localStorage.setItem(KEY, choice); } catch { /* private mode: the choice lasts this page */ }
  listeners.forEach((fn) => fn());
}

export function useTimeZoneChoice(): TimeZoneChoice {
  return useSyncExternalStore((fn) => { listeners.add(fn); return () => { listeners.delete(fn); }; }, timeZoneChoice);
}

/** The browser's own zone name, for saying what "local" is. */
export const localZoneName = (): string => Intl.DateTimeFormat().resolvedOptions().timeZone;
