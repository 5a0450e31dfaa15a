// The query editor in Explore, as a person uses it: fill the Run benchmark
// form, start a run against the simulator, watch its live frames arrive,
// and find it in the runs table when it has finished.
import { expect, test } from './fixtures';

test('the query editor starts a run, streams it live and lists it', async ({ explorePage, page }) => {
  const name = `e2e-editor-${Date.now()}`;
  await explorePage.datasource.set('Benchmarks');
  const row = explorePage.getQueryEditorRow('A');

  await row.getByTestId('bencher-run-toggle').click();
  const form = row.getByTestId('bencher-run-form');
  await expect(form).toBeVisible();
  await form.getByTestId('bencher-run-load').getByLabel('Custom').check();
  await form.getByTestId('bencher-run-concurrency').fill('2');
  await form.getByTestId('bencher-run-bound').getByLabel('Duration').check();
  await form.getByTestId('bencher-run-duration').fill('20s');
  await form.getByTestId('bencher-run-input-tokens').fill('64');
  await form.getByTestId('bencher-run-output-tokens').fill('16');
  await form.getByTestId('bencher-run-name').fill(name);
  await form.getByTestId('bencher-run-labels').fill('suite=e2e, from=editor');
  // Grafana's Switch draws its label over the checkbox.
  await form.getByTestId('bencher-run-record-outputs').check({ force: true });
  await form.getByTestId('bencher-run-start').click();

  // The run started: the editor follows it and Explore draws its live frames.
  const status = row.getByTestId('bencher-run-status');
  await expect(status).toHaveAttribute('data-status', 'running', { timeout: 60_000 });
  const runId = await status.getAttribute('data-run-id');
  expect(runId, 'the status box names the run').toBeTruthy();
  await expect(row.getByTestId('bencher-run-status-text')).toContainText(/running/);
  await expect(page.locator('canvas').first(), 'the live graph draws while the run runs').toBeVisible({ timeout: 60_000 });
  // Progress moves: the status text changes while requests complete.
  const first = await row.getByTestId('bencher-run-status-text').innerText();
  await expect
    .poll(async () => row.getByTestId('bencher-run-status-text').innerText(), { timeout: 60_000, message: 'progress moves' })
    .not.toBe(first);
  await page.screenshot({ path: `${process.env.E2E_OUTPUT_DIR ?? 'e2e-output'}/explore-live-run.png` });

  await expect(status).toHaveAttribute('data-status', 'completed', { timeout: 120_000 });

  // The finished run is in the runs table.
  await row.getByTestId('bencher-query-type').getByLabel('Runs').check();
  await explorePage.runQuery();
  await expect(page.getByText(name).first(), 'the runs table lists the new run').toBeVisible({ timeout: 60_000 });
  await expect(page.getByText('from=editor, suite=e2e').first(), 'with its labels').toBeVisible();
  await page.screenshot({ path: `${process.env.E2E_OUTPUT_DIR ?? 'e2e-output'}/explore-runs-table.png` });
});

test('the query editor runs a Batch API job and lists it with its makespan', async ({ explorePage, page, request }) => {
  const name = `e2e-batch-${Date.now()}`;
  await explorePage.datasource.set('Benchmarks');
  const row = explorePage.getQueryEditorRow('A');

  await row.getByTestId('bencher-run-toggle').click();
  const form = row.getByTestId('bencher-run-form');
  await expect(form).toBeVisible();
  await form.getByTestId('bencher-run-load').getByLabel('Profile').check();
  // Grafana's Select: type the profile's name and take it.
  await form.locator('#bench-form-profile').fill('batch-api');
  await page.keyboard.press('Enter');
  await expect(form.getByTestId('bencher-run-batch-note'), 'the form says what batch mode measures').toContainText(
    'TTFT, ITL and TPOT do not exist (n/a)'
  );
  await expect(form.getByTestId('bencher-run-bound').getByLabel('Duration'), 'a batch holds a request count').toBeDisabled();
  await form.getByTestId('bencher-run-requests').fill('40');
  await form.getByTestId('bencher-run-input-tokens').fill('32');
  await form.getByTestId('bencher-run-output-tokens').fill('8');
  await form.getByTestId('bencher-run-name').fill(name);
  await form.getByTestId('bencher-run-start').click();

  // The run follows the server's batch: its status line names the batch's status.
  const status = row.getByTestId('bencher-run-status');
  await expect(status).toHaveAttribute('data-status', /running|completed/, { timeout: 60_000 });
  await page.screenshot({ path: `${process.env.E2E_OUTPUT_DIR ?? 'e2e-output'}/explore-batch-run.png` });
  await expect(status).toHaveAttribute('data-status', 'completed', { timeout: 180_000 });

  // The runs table lists it as a batch-api run, with a makespan.
  await row.getByTestId('bencher-query-type').getByLabel('Runs').check();
  await explorePage.runQuery();
  await expect(page.getByText(name).first(), 'the runs table lists the batch run').toBeVisible({ timeout: 60_000 });
  await page.screenshot({ path: `${process.env.E2E_OUTPUT_DIR ?? 'e2e-output'}/explore-batch-runs-table.png` });

  // Its row, as the table receives it (Explore shows the first 20 of the
  // runs frame's columns): a batch-api run with a makespan and no TTFT.
  const resp = await request.post('/api/ds/query', {
    data: {
      from: 'now-1h',
      to: 'now',
      queries: [{ refId: 'A', datasource: { uid: 'benchstation-bencher' }, queryType: 'runs', name }],
    },
  });
  expect(resp.ok(), await resp.text()).toBeTruthy();
  const frame = (await resp.json()).results.A.frames[0];
  const column = (field: string) => {
    const i = frame.schema.fields.findIndex((f: { name: string }) => f.name === field);
    expect(i, `the runs frame has ${field}`).toBeGreaterThanOrEqual(0);
    return frame.data.values[i];
  };
  expect(column('name')).toEqual([name]);
  expect(column('profile')).toEqual(['batch-api']);
  expect(column('mode')).toEqual(['batch-api']);
  expect(column('status')).toEqual(['completed']);
  expect(column('requests')).toEqual([40]);
  expect(column('makespan_s')[0], 'the makespan was measured').toBeGreaterThan(0);
  expect(column('ttft_p95'), 'a batch has no TTFT: null, not 0').toEqual([null]);
});
