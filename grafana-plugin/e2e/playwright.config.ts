// Browser tests against a real Grafana, run by internal/stacktest's
// TestGrafanaEndToEnd (`go tool mage e2e`), which starts Grafana, the
// plugin, Prometheus, the simulator and the exporter, and passes their
// addresses in the environment. Chromium is Debian's (CHROMIUM_PATH):
// nothing here downloads a browser.
import { dirname } from 'node:path';
import { defineConfig, devices } from '@playwright/test';
import type { PluginOptions } from '@grafana/plugin-e2e';

const out = process.env.E2E_OUTPUT_DIR ?? 'e2e-output';
const admin = { user: 'admin', password: process.env.GRAFANA_PASSWORD ?? 'admin-local-test' };
// The Go test runs the suite twice: before any benchmark run exists
// (E2E_PHASE=empty, the tests tagged @empty) and after two runs (the rest).
const empty = process.env.E2E_PHASE === 'empty';

export default defineConfig<PluginOptions>({
  testDir: '.',
  outputDir: `${out}/playwright-${process.env.E2E_PHASE ?? 'all'}`,
  fullyParallel: false,
  workers: 1,
  retries: 0,
  forbidOnly: true,
  timeout: 480_000,
  expect: { timeout: 60_000 },
  reporter: [['list']],
  use: {
    baseURL: process.env.GRAFANA_URL ?? 'http://127.0.0.1:3300',
    grafanaAPICredentials: admin,
    user: admin,
    screenshot: 'only-on-failure',
    trace: 'retain-on-failure',
    navigationTimeout: 180_000,
    actionTimeout: 60_000,
    viewport: { width: 1600, height: 1000 },
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      // This machine reaches nothing but loopback: no background traffic.
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
  },
  projects: [
    // @grafana/plugin-e2e's login, kept in playwright/.auth/admin.json.
    {
      name: 'auth',
      testDir: `${dirname(require.resolve('@grafana/plugin-e2e'))}/auth`,
      testMatch: [/.*\.js/],
      use: { browserName: 'chromium' },
    },
    {
      name: 'grafana',
      testMatch: /.*\.spec\.ts/,
      grep: empty ? /@empty/ : undefined,
      grepInvert: empty ? undefined : /@empty/,
      use: { ...devices['Desktop Chrome'], viewport: { width: 1600, height: 1000 }, storageState: 'playwright/.auth/admin.json' },
      dependencies: ['auth'],
    },
  ],
});
