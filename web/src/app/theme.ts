// Shade 8 of each colour carries white text at WCAG AA contrast (Mantine's default shade 6
// does not); text in the light and outline variants (alert titles, light badges) uses shade 9
// on light backgrounds and shade 3 on dark ones, and the muted text colour is darkened, for
// the same reason.

import { createTheme, type CSSVariablesResolver } from '@mantine/core';

export const theme = createTheme({
  primaryColor: 'blue',
  primaryShade: { light: 8, dark: 8 },
  autoContrast: true,
  fontFamily: 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif',
  components: {
    // A table wider than a phone scrolls sideways: its scroll area takes keyboard focus, so it
    // can be scrolled without a mouse (axe: scrollable-region-focusable).
    TableScrollContainer: { defaultProps: { scrollAreaProps: { viewportProps: { tabIndex: 0 } } } },
  },
});

const TINTED = ['blue', 'red', 'green', 'yellow', 'orange', 'gray', 'grape', 'teal'] as const;

const tinted = (t: Parameters<CSSVariablesResolver>[0], shade: number): Record<string, string> => Object.fromEntries(
  TINTED.flatMap((c) => [[`--mantine-color-${c}-light-color`, t.colors[c][shade]!], [`--mantine-color-${c}-outline`, t.colors[c][shade]!]]));

export const cssVariablesResolver: CSSVariablesResolver = (t) => ({
  variables: {},
  light: { '--mantine-color-dimmed': t.colors.gray[7]!, '--mantine-color-anchor': t.colors.blue[8]!, ...tinted(t, 9) },
  dark: { '--mantine-color-dimmed': t.colors.dark[1]!, '--mantine-color-anchor': t.colors.blue[3]!, ...tinted(t, 3) },
});
