// The date column of a Unix-style FTP LIST, read into server time (UTC) to the minute or day.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseListDate } from './ftp-times.ts';

const NOW_MS = Date.UTC(2025, 2, 10, 12, 0); // 10 Mar 2025 12:00 UTC

test('a recent time without a year falls in the last twelve months', () => {
  assert.equal(parseListDate('Mar 10 11:59', NOW_MS), Date.UTC(2025, 2, 10, 11, 59));
  assert.equal(parseListDate('Jan  2 08:05', NOW_MS), Date.UTC(2025, 0, 2, 8, 5));
  assert.equal(parseListDate('Dec 31 23:59', NOW_MS), Date.UTC(2024, 11, 31, 23, 59));
  // A server clock a few hours ahead of ours is still this year.
  assert.equal(parseListDate('Mar 10 18:00', NOW_MS), Date.UTC(2025, 2, 10, 18, 0));
});

test('older entries carry the year and are to the day; ISO form is read too', () => {
  assert.equal(parseListDate('Jun 30 2023', NOW_MS), Date.UTC(2023, 5, 30));
  assert.equal(parseListDate('2024-11-05 07:30', NOW_MS), Date.UTC(2024, 10, 5, 7, 30));
});

test('a date column we cannot read gives no time, not a wrong one', () => {
  assert.equal(parseListDate('', NOW_MS), null);
  assert.equal(parseListDate('03-10-25 11:59AM', NOW_MS), null);
  assert.equal(parseListDate('Foo 10 11:59', NOW_MS), null);
});
