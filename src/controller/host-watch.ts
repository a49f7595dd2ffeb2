// Host watching: a host that reported (an inventory sync, later an agent's heartbeat) and then
// fell silent for longer than the lost window raises host.lost, once — the catalog turns it
// `lost` in the same step, and a report makes it online again.

import type { AlertNotifier } from '../alerts/index.ts';
import { markLostHosts, type Catalog } from '../catalog/index.ts';

/** Silence after which a host counts as lost: five missed inventory syncs. */
export const DEFAULT_HOST_LOST_MS = 5 * 60_000;

export async function checkHosts(catalog: Catalog, notifier: AlertNotifier, silentMs = DEFAULT_HOST_LOST_MS): Promise<string[]> {
  const lost = await markLostHosts(catalog, silentMs);
  const nowMs = catalog.clock.nowMs();
  for (const host of lost) {
    notifier.notify({
      kind: 'host.lost', key: host, severity: 'error', timeMs: nowMs,
      message: `host ${host} has not reported for ${Math.round(silentMs / 60_000)} min: its VMs are not being backed up`,
      data: { host, silentMs },
    });
  }
  return lost;
}
