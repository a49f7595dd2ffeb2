// Small presentational pieces every feature uses; no data fetching here.
export { ErrorNotice } from './ErrorNotice.tsx';
export { Empty } from './Empty.tsx';
export { Loading } from './Loading.tsx';
export { StateBadge } from './JobStateBadge.tsx';
export { PageHeader } from './PageHeader.tsx';
export { formatAgo, formatBytes, formatDuration, formatRate, formatTime } from './format.ts';
export { localZoneName, setTimeZoneChoice, timeZoneChoice, useTimeZoneChoice, type TimeZoneChoice } from './timeZone.ts';
