// Stored bytes per repository over time (uPlot: small, canvas-drawn). The numbers behind the
// lines are also in a table for screen readers and keyboard users.

import { Table, VisuallyHidden, useComputedColorScheme } from '@mantine/core';
import { useEffect, useMemo, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { UsageSample } from '../../api/index.ts';
import { formatBytes, formatTime } from '../../ui/index.ts';

const COLORS = ['#1971c2', '#e8590c', '#2f9e44', '#9c36b5', '#c2255c', '#0c8599'];

function seriesOf(samples: readonly UsageSample[]): { names: string[]; data: uPlot.AlignedData } {
  const names = [...new Set(samples.map((s) => s.repository))].sort();
  const times = [...new Set(samples.map((s) => Math.round(s.timeMs / 1000)))].sort((a, b) => a - b);
  const at = new Map(samples.map((s) => [`${s.repository}|${Math.round(s.timeMs / 1000)}`, s.storedBytes]));
  const data = [times, ...names.map((n) => times.map((t) => at.get(`${n}|${t}`) ?? null))] as uPlot.AlignedData;
  return { names, data };
}

export default function UsageChart({ samples }: { samples: readonly UsageSample[] }) {
  const holder = useRef<HTMLDivElement>(null);
  const dark = useComputedColorScheme('light') === 'dark';
  const { names, data } = useMemo(() => seriesOf(samples), [samples]);
  useEffect(() => {
    const el = holder.current;
    if (!el) return;
    const axis = { stroke: dark ? '#c9c9c9' : '#495057', grid: { stroke: dark ? '#373a40' : '#e9ecef' } };
    const plot = new uPlot({
      width: el.clientWidth || 400, height: 220,
      series: [{}, ...names.map((label, i) => ({ label, stroke: COLORS[i % COLORS.length], width: 2, spanGaps: true, value: (_: uPlot, v: number | null) => formatBytes(v) }))],
      axes: [axis, { ...axis, size: 84, values: (_: uPlot, ticks: number[]) => ticks.map((v) => formatBytes(v)) }],
    }, data, el);
    const resize = new ResizeObserver(() => plot.setSize({ width: el.clientWidth, height: 220 }));
    resize.observe(el);
    return () => { resize.disconnect(); plot.destroy(); };
  }, [names, data, dark]);
  const latest = names.map((n) => samples.filter((s) => s.repository === n).at(-1)!);
  return (
    <>
      <div ref={holder} aria-hidden data-testid="usage-chart" />
      <VisuallyHidden>
        <Table>
          <caption>Newest usage sample per repository</caption>
          <Table.Thead><Table.Tr><Table.Th>Repository</Table.Th><Table.Th>Stored</Table.Th><Table.Th>At</Table.Th></Table.Tr></Table.Thead>
          <Table.Tbody>{latest.map((s) => <Table.Tr key={s.repository}><Table.Td>{s.repository}</Table.Td><Table.Td>{formatBytes(s.storedBytes)}</Table.Td><Table.Td>{formatTime(s.timeMs)}</Table.Td></Table.Tr>)}</Table.Tbody>
        </Table>
      </VisuallyHidden>
    </>
  );
}
