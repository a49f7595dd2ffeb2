// Every route of the API, in the order the OpenAPI document lists them.

import type { AnyRoute } from '../routing.ts';
import { accessRoutes } from './access.ts';
import { agentRoutes } from './agent.ts';
import { alertRoutes } from './alerts.ts';
import { backupRoutes } from './backups.ts';
import { fileRoutes } from './files.ts';
import { inventoryRoutes } from './inventory.ts';
import { jobRoutes } from './jobs.ts';
import { metaRoutes } from './meta.ts';
import { observeRoutes } from './observe.ts';
import { policyRoutes } from './policies.ts';
import { repositoryProbeRoutes } from './repository-probe.ts';
import { repositoryRoutes } from './repositories.ts';
import { settingsRoutes } from './settings.ts';

export const ALL_ROUTES: readonly AnyRoute[] = [
  ...metaRoutes, ...settingsRoutes, ...inventoryRoutes, ...policyRoutes, ...repositoryRoutes, ...repositoryProbeRoutes, ...jobRoutes, ...backupRoutes, ...fileRoutes,
  ...observeRoutes, ...alertRoutes, ...accessRoutes, ...agentRoutes,
];
