// vmbak verify | prune | gc | check: keeping a repository healthy.

import type { Command } from 'commander';
export function registerCareCommands(_program: Command): void {}
