// Every panel of every provisioned dashboard, opened in Chromium against a
// real Grafana with data behind it: no panel is in an error state, none
// says "No data" unless it only has data after an event, and each shows
// its visualization (a canvas, table rows, a stat value or text).
import { expect, test, type DashboardPage } from './fixtures';
import type { Locator, Page } from '@playwright/test';
import { expectations, exempt, type Expectation } from './expectations';

const out = process.env.E2E_OUTPUT_DIR ?? 'e2e-output';

/** A panel of a dashboard's JSON model. */
interface PanelModel {
  type: string;
  title: string;
  panels?: PanelModel[];
}

/** A dashboard's JSON model: its panels and its variables. */
interface DashboardModel {
  panels: PanelModel[];
  templating?: { list?: Array<{ name: string; current?: { value?: string | string[] } }> };
}

/** The variables' values the dashboard opens with, by name: its defaults,
 * then those the URL sets. */
function variables(model: DashboardModel, set: Record<string, string> = {}): Map<string, string> {
  const vars = new Map<string, string>();
  for (const v of model.templating?.list ?? []) {
    const value = v.current?.value;
    vars.set(v.name, Array.isArray(value) ? value.join(', ') : (value ?? ''));
  }
  for (const [name, value] of Object.entries(set)) {
    vars.set(name, value);
  }
  return vars;
}

/** The URL parameters that open a dashboard at from..now with vars set. */
function dashboardParams(from: string, vars: Record<string, string> = {}): URLSearchParams {
  const params = new URLSearchParams({ from, to: 'now' });
  for (const [name, value] of Object.entries(vars)) {
    params.set(`var-${name}`, value);
  }
  return params;
}

/** A panel's title as Grafana shows it: its variables replaced by their values. */
function shownTitle(title: string, vars: Map<string, string>): string {
  return title.replace(/\$\{?(\w+)\}?/g, (whole, name: string) => vars.get(name) ?? whole);
}

/** What a panel shows at one moment. */
interface Seen {
  /** The error icon's label, when the panel is in an error state. */
  error: string | null;
  /** The panel's own message instead of a visualization: "No data", a
   * noValue text, or a visualization's ("No histogram found in response"). */
  message: string | null;
  loading: boolean;
  canvas: number;
  rows: number;
  text: string;
}

/** The dashboard's panels (rows' own panels included), rows left out. */
function flatten(panels: PanelModel[]): PanelModel[] {
  return panels.flatMap((p) => (p.type === 'row' ? flatten(p.panels ?? []) : [p]));
}

/** Reads what the panel shows now. */
async function look(panel: Locator, errorIcon: Locator): Promise<Seen> {
  const error =
    (await errorIcon.count()) > 0 ? ((await errorIcon.first().getAttribute('aria-label')) ?? 'error') : null;
  const msg = panel.getByTestId('data-testid Panel data error message');
  return {
    error,
    message: (await msg.count()) > 0 ? (await msg.first().innerText()).trim() : null,
    loading: (await panel.getByLabel('Panel loading bar').count()) > 0,
    canvas: await panel.locator('canvas').count(),
    rows: await panel.locator('[role="row"]').count(),
    text: (await panel.innerText()).trim(),
  };
}

/** Whether a panel of this kind shows its visualization. */
function drawn(kind: Expectation['shows'], seen: Seen, title: string): boolean {
  if (seen.message !== null) {
    return false;
  }
  switch (kind) {
    case 'canvas':
      return seen.canvas > 0;
    case 'table':
      return seen.rows >= 2; // the header row and at least one row of data
    case 'value':
    case 'text':
      return seen.text.replace(title, '').trim().length > 0;
  }
}

/** Hovers the error icon to read the panel's error message. */
async function errorText(page: Page, icon: Locator): Promise<string> {
  await icon
    .first()
    .hover()
    .catch(() => undefined);
  const tip = page.locator('[role="tooltip"]');
  return (await tip.count()) > 0 ? (await tip.first().innerText()).trim() : 'error';
}

/** What decides a panel's verdict, to tell when it stopped changing. */
function state(seen: Seen): string {
  return JSON.stringify([seen.error, seen.message, seen.canvas > 0, seen.rows, seen.loading]);
}

/**
 * Waits until the panel settles and returns what it shows then: it has
 * stopped loading, looks the same twice in a row, and drew, failed, shows
 * a message, or has not changed for three looks. (A chart can draw its
 * annotations before its own query answers, so one look is not enough.)
 */
async function settle(panel: Locator, errorIcon: Locator, kind: Expectation['shows'], title: string): Promise<Seen> {
  let seen = await look(panel, errorIcon);
  let still = 0;
  let last = '';
  await expect
    .poll(
      async () => {
        seen = await look(panel, errorIcon);
        const now = state(seen) + seen.text;
        still = !seen.loading && now === last ? still + 1 : 0;
        last = now;
        const decided = seen.error !== null || seen.message !== null || drawn(kind, seen, title);
        return (decided && still >= 1) || still >= 3;
      },
      { timeout: 60_000, intervals: [500, 1000] }
    )
    .toBe(true)
    .catch(() => undefined);
  return seen;
}

/** Checks every panel of the dashboard uid and returns its problems. */
async function checkPanels(
  page: Page,
  dashboard: DashboardPage,
  model: DashboardModel,
  uid: string,
  set: Record<string, string> = {}
): Promise<string[]> {
  const problems: string[] = [];
  const vars = variables(model, set);
  for (const p of flatten(model.panels)) {
    const want = expectations(uid, p.type, p.title);
    const panel = dashboard.getPanelByTitle(shownTitle(p.title, vars));
    // The dashboard may still be mounting its grid, and panels out of view
    // are not in the page: look from the top down until the panel is there.
    // (plugin-e2e's scrollIntoView scrolls only down from the first screen,
    // so it never finds a top panel once the page has moved.)
    const found = await expect
      .poll(
        async () => {
          await page.evaluate(() => window.scrollTo(0, 0));
          await page.waitForTimeout(300);
          if ((await panel.locator.count()) === 0) {
            await panel.scrollIntoView();
          }
          await panel.locator.scrollIntoViewIfNeeded({ timeout: 5_000 }).catch(() => undefined);
          return panel.locator.count();
        },
        { timeout: 60_000, intervals: [500, 1000, 2000] }
      )
      .toBeGreaterThan(0)
      .then(() => true)
      .catch(() => false);
    if (!found) {
      problems.push(`${p.title}: not on the page`);
      continue;
    }
    const seen = await settle(panel.locator, panel.getErrorIcon(), want.shows, p.title);
    if (seen.error !== null) {
      problems.push(`${p.title}: error state (${await errorText(page, panel.getErrorIcon())})`);
    } else if (seen.message !== null && !want.eventOnly) {
      problems.push(`${p.title}: says ${JSON.stringify(seen.message)} instead of drawing`);
    } else if (seen.message === null && !drawn(want.shows, seen, p.title)) {
      problems.push(`${p.title}: no ${want.shows} drawn (text: ${JSON.stringify(seen.text.slice(0, 200))})`);
    }
  }
  return problems;
}

const dashboards: Array<{ uid: string; from: string; vars?: Record<string, string> }> = [
  { uid: 'benchstation-gpu-vllm', from: 'now-15m' },
  // The modes row compares the runs of one size: the suite's runs have 40
  // requests.
  { uid: 'benchstation-benchmarks', from: 'now-30m', vars: { size: '40' } },
  { uid: 'benchstation-batch-jobs', from: 'now-15m' },
];

for (const d of dashboards) {
  test(`every panel of ${d.uid} draws`, async ({ gotoDashboardPage, page, request }) => {
    const resp = await request.get(`/api/dashboards/uid/${d.uid}`);
    expect(resp.ok(), `GET /api/dashboards/uid/${d.uid}`).toBeTruthy();
    const model = (await resp.json()).dashboard as DashboardModel;
    const panels = flatten(model.panels);
    expect(panels.length).toBeGreaterThan(0);

    const dashboard = await gotoDashboardPage({ uid: d.uid, queryParams: dashboardParams(d.from, d.vars) });
    const problems = (await checkPanels(page, dashboard, model, d.uid, d.vars)).filter((p) => !exempt(d.uid, p));
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: `${out}/${d.uid}.png`, fullPage: true });
    expect(problems, `${d.uid}: ${problems.length} of ${panels.length} panels do not draw`).toEqual([]);
  });
}

// Before any run exists, the Benchmarks dashboard is a place to start, not
// a wall of errors: no panel of the bencher data source fails (they say
// how to start a run), and the GPU and vLLM panels draw as usual.
test('the Benchmarks dashboard before any run has no error @empty', async ({ gotoDashboardPage, page, request }) => {
  const uid = 'benchstation-benchmarks';
  const resp = await request.get(`/api/dashboards/uid/${uid}`);
  const model = (await resp.json()).dashboard as DashboardModel;
  const dashboard = await gotoDashboardPage({ uid, queryParams: new URLSearchParams({ from: 'now-30m', to: 'now' }) });
  const problems = (await checkPanels(page, dashboard, model, uid))
    // No run: the bencher's panels have nothing to draw yet.
    .filter((p) => !/: (says "No data"|no (canvas|table|value|text) drawn)/.test(p));
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: `${out}/${uid}-before-any-run.png`, fullPage: true });
  expect(problems, `${uid} before any run`).toEqual([]);
});
