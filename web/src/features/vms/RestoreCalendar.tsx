// A VM's restore points as a month calendar: each day shows its points as marks — a square for
// a full backup, a dot for an incremental, coloured by verify state — and picking a day lists
// its points with what each is (consistency, full or incremental and why, verified or not)
// and the actions the role allows. A calendar rather than a chart: it reads by keyboard and
// screen reader as a grid of buttons, and still fits a phone.

import { ActionIcon, Badge, Box, Button, Card, Group, SimpleGrid, Stack, Text, UnstyledButton } from '@mantine/core';
import { useMemo, useState } from 'react';
import type { Backup } from '../../api/index.ts';
import { StateBadge, formatBytes, formatTime, timeZoneChoice } from '../../ui/index.ts';

const WEEKDAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];
const VERIFY_COLORS: Record<Backup['verifyState'], string> = { ok: 'var(--mantine-color-green-7)', failed: 'var(--mantine-color-red-7)', unverified: 'var(--mantine-color-gray-6)' };

/** The calendar day of a time, in the zone the user chose (as formatTime shows it). */
function dayOf(ms: number): { year: number; month: number; day: number } {
  const d = new Date(ms);
  return timeZoneChoice() === 'UTC' ? { year: d.getUTCFullYear(), month: d.getUTCMonth(), day: d.getUTCDate() } : { year: d.getFullYear(), month: d.getMonth(), day: d.getDate() };
}
const keyOf = (year: number, month: number, day: number): string => `${year}-${month}-${day}`;
const dayKey = (ms: number): string => { const d = dayOf(ms); return keyOf(d.year, d.month, d.day); };
const monthName = (year: number, month: number): string => new Date(year, month, 1).toLocaleDateString(undefined, { month: 'long', year: 'numeric' });

export const kindOf = (b: Backup): string => (b.incremental ? 'incremental' : b.fullReason ? `full (${b.fullReason})` : 'full');

/** The days of the month's grid, Monday first, padded with nulls before the 1st. */
function monthCells(year: number, month: number): (Date | null)[] {
  const lead = (new Date(year, month, 1).getDay() + 6) % 7;
  const days = new Date(year, month + 1, 0).getDate();
  return [...Array<null>(lead).fill(null), ...Array.from({ length: days }, (_, i) => new Date(year, month, i + 1))];
}

function Mark({ backup }: { backup: Backup }) {
  return <Box component="span" aria-hidden w={8} h={8} display="inline-block" bg={VERIFY_COLORS[backup.verifyState]} style={{ borderRadius: backup.incremental ? '50%' : 1 }} />;
}

export interface PointActions {
  onRestore?(b: Backup): void;
  onFiles?(b: Backup): void;
  onVerify?(b: Backup): void;
}

function PointCard({ backup: b, actions }: { backup: Backup; actions: PointActions }) {
  const when = formatTime(b.timeMs);
  return (
    <Card withBorder padding="sm" data-testid="restore-point">
      <Group justify="space-between" wrap="wrap" gap="xs">
        <Text fw={600}>{when}</Text>
        <Group gap="xs"><Badge variant="default">{b.repository}</Badge><StateBadge state={b.verifyState} /></Group>
      </Group>
      <Text size="sm">{kindOf(b)} · {b.consistency}-consistent · {formatBytes(b.logicalBytes)}, {formatBytes(b.newBytes)} new</Text>
      <Group gap="xs" mt="xs">
        {actions.onRestore && <Button size="xs" onClick={() => actions.onRestore!(b)} aria-label={`Restore this point (${when})`}>Restore…</Button>}
        {actions.onFiles && <Button size="xs" variant="default" onClick={() => actions.onFiles!(b)} aria-label={`Browse the files of ${when}`}>Files…</Button>}
        {actions.onVerify && <Button size="xs" variant="default" onClick={() => actions.onVerify!(b)} aria-label={`Verify this point (${when})`}>Verify</Button>}
      </Group>
    </Card>
  );
}

export function RestoreCalendar({ backups, actions }: { backups: readonly Backup[]; actions: PointActions }) {
  const newest = backups.reduce((m, b) => Math.max(m, b.timeMs), 0);
  const [month, setMonth] = useState(() => { const d = dayOf(newest || Date.now()); return { year: d.year, month: d.month }; });
  const [day, setDay] = useState<string>(() => dayKey(newest || Date.now()));
  const byDay = useMemo(() => {
    const out = new Map<string, Backup[]>();
    for (const b of [...backups].sort((x, y) => x.timeMs - y.timeMs)) out.set(dayKey(b.timeMs), [...(out.get(dayKey(b.timeMs)) ?? []), b]);
    return out;
  }, [backups]);
  const step = (by: number) => setMonth(({ year, month: m }) => { const d = new Date(year, m + by, 1); return { year: d.getFullYear(), month: d.getMonth() }; });
  const picked = byDay.get(day) ?? [];
  return (
    <Stack gap="xs" component="section" aria-label="Restore points calendar">
      <Group justify="space-between">
        <ActionIcon variant="default" onClick={() => step(-1)} aria-label="Previous month"><span aria-hidden>‹</span></ActionIcon>
        <Text fw={600} aria-live="polite">{monthName(month.year, month.month)}</Text>
        <ActionIcon variant="default" onClick={() => step(1)} aria-label="Next month"><span aria-hidden>›</span></ActionIcon>
      </Group>
      <SimpleGrid cols={7} spacing={4} verticalSpacing={4}>
        {WEEKDAYS.map((w) => <Text key={w} size="xs" ta="center" aria-hidden>{w}</Text>)}
        {monthCells(month.year, month.month).map((date, i) => {
          if (!date) return <div key={`pad${i}`} />;
          const key = keyOf(month.year, month.month, date.getDate());
          const points = byDay.get(key) ?? [];
          const label = `${date.toLocaleDateString(undefined, { day: 'numeric', month: 'long' })}: ${points.length === 0 ? 'no restore point' : `${points.length} restore point${points.length > 1 ? 's' : ''}`}`;
          return (
            <UnstyledButton key={key} onClick={() => setDay(key)} aria-label={label} aria-pressed={key === day} p={4} mih={44}
              style={{ border: `1px solid ${key === day ? 'var(--mantine-color-blue-6)' : 'var(--mantine-color-default-border)'}`, borderRadius: 4 }}>
              <Text size="xs">{date.getDate()}</Text>
              <Group gap={2}>{points.slice(0, 6).map((b) => <Mark key={`${b.repository}/${b.backupId}`} backup={b} />)}{points.length > 6 && <Text size="xs" span>+</Text>}</Group>
            </UnstyledButton>
          );
        })}
      </SimpleGrid>
      <Text size="xs">Square: full backup · dot: incremental · green: verified · red: verify failed · grey: not verified yet</Text>
      {picked.length === 0 ? <Text size="sm">No restore point on the day picked: pick a day with marks.</Text>
        : <SimpleGrid cols={{ base: 1, md: 2 }}>{picked.map((b) => <PointCard key={`${b.repository}/${b.backupId}`} backup={b} actions={actions} />)}</SimpleGrid>}
    </Stack>
  );
}
