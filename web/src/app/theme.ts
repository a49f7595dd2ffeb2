// Shade 8 of each colour carries white text at WCAG AA contrast (Mantine's default shade 6
// does not), and the muted text colour is darkened for the same reason.

import { createTheme, type CSSVariablesResolver } from '@mantine/core';

export const theme = createTheme({
  primaryColor: 'blue',
  primaryShade: { light: 8, dark: 8 },
  autoContrast: true,
  fontFamily: 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif',
});

export const cssVariablesResolver: CSSVariablesResolver = (t) => ({
  variables: {},
  light: { '--mantine-color-dimmed': t.colors.gray[7]!, '--mantine-color-anchor': t.colors.blue[8]! },
  dark: { '--mantine-color-dimmed': t.colors.dark[1]!, '--mantine-color-anchor': t.colors.blue[3]! },
});
