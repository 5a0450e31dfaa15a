// @grafana/plugin-e2e's test, with its boot data read from Grafana's API.
// The library's own fixture opens a second page of Grafana's 32 MB
// frontend and keeps it open for the whole test, which doubles the work
// of a 2-core CI machine and timed out there; /api/frontend/settings
// holds the same version and namespace.
import { test as base } from '@grafana/plugin-e2e';

export { expect } from '@grafana/plugin-e2e';
export type { DashboardPage } from '@grafana/plugin-e2e';

/** What @grafana/plugin-e2e reads from Grafana's boot data (internal to it). */
interface BootData {
  version?: string;
  namespace?: string;
  selectorsUrl?: string;
}

export const test = base.extend<{ bootData: BootData }>({
  bootData: async ({ request }, use) => {
    const resp = await request.get('/api/frontend/settings');
    if (!resp.ok()) {
      throw new Error(`GET /api/frontend/settings: ${resp.status()} ${await resp.text()}`);
    }
    const s = await resp.json();
    await use({ version: s.buildInfo.version, namespace: s.namespace, selectorsUrl: undefined });
  },
});
