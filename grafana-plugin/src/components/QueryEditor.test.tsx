import React from 'react';
import { act, cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react';

import { QueryEditor, RUNS_POLL_MS, parseLabels } from './QueryEditor';
import { BenchQuery, QueryType, RunListItem } from '../types';
import { makeDataSource, profilesBody, runsBody } from '../test/fixtures';

/** Field inputs, not the query-type radio buttons of the same name. */
const field = { selector: 'input:not([type="radio"])' };

function setup(query: Partial<BenchQuery> = {}) {
  const { ds, getResource, postResource } = makeDataSource();
  const onChange = jest.fn();
  const onRunQuery = jest.fn();
  const q: BenchQuery = { refId: 'A', queryType: QueryType.Runs, ...query };
  const utils = render(<QueryEditor datasource={ds} query={q} onChange={onChange} onRunQuery={onRunQuery} />);
  return { ...utils, ds, getResource, postResource, onChange, onRunQuery };
}

describe('QueryEditor', () => {
  it('lists the runs and profiles through the resource endpoints', async () => {
    const { getResource } = setup();
    await waitFor(() => expect(getResource).toHaveBeenCalledWith('runs'));
    expect(getResource).toHaveBeenCalledWith('profiles');
  });

  it('offers every query type', async () => {
    setup();
    for (const label of ['Runs', 'Run', 'Live', 'Distribution', 'Compare', 'Outputs', 'Trend']) {
      expect(screen.getByRole('radio', { name: label })).toBeInTheDocument();
    }
    await waitFor(() => expect(screen.getByTestId('bench-query-editor')).toBeInTheDocument());
  });

  it('switches the query type and runs the query', async () => {
    const { onChange, onRunQuery } = setup();
    fireEvent.click(screen.getByRole('radio', { name: 'Distribution' }));
    expect(onChange).toHaveBeenCalledWith(expect.objectContaining({ refId: 'A', queryType: 'distribution' }));
    expect(onRunQuery).toHaveBeenCalled();
    await waitFor(() => expect(screen.getByTestId('bench-query-editor')).toBeInTheDocument());
  });

  it('shows the filters for runs', async () => {
    const { onChange } = setup({ queryType: QueryType.Runs, name: 'night' });
    expect(screen.getByLabelText('Name')).toHaveValue('night');
    expect(screen.getByLabelText('Profile')).toBeInTheDocument();
    expect(screen.getByLabelText('Model')).toBeInTheDocument();
    expect(screen.getByText('Labels')).toBeInTheDocument();
    expect(screen.getByText('Status')).toBeInTheDocument();
    expect(screen.queryByText('Value')).not.toBeInTheDocument();
    expect(screen.queryByLabelText('Run', field)).not.toBeInTheDocument();
    fireEvent.change(screen.getByLabelText('Model'), { target: { value: 'm1' } });
    expect(onChange).toHaveBeenCalledWith(expect.objectContaining({ queryType: 'runs', name: 'night', model: 'm1' }));
    await waitFor(() => expect(screen.getByTestId('bench-query-editor')).toBeInTheDocument());
  });

  it('shows the value and filters for trend', async () => {
    const { onChange } = setup({ queryType: QueryType.Trend });
    fireEvent.change(screen.getByLabelText('Value'), { target: { value: 'ttft_p95' } });
    expect(onChange).toHaveBeenCalledWith(expect.objectContaining({ queryType: 'trend', value: 'ttft_p95' }));
    expect(screen.getByLabelText('Profile')).toBeInTheDocument();
    await waitFor(() => expect(screen.getByTestId('bench-query-editor')).toBeInTheDocument());
  });

  it('shows a run picker and metric/kind for distribution', async () => {
    const { onChange } = setup({ queryType: QueryType.Distribution, runId: 'run-a' });
    expect(screen.getByLabelText('Run', field)).toBeInTheDocument();
    expect(screen.queryByLabelText('Name')).not.toBeInTheDocument();
    fireEvent.click(screen.getByRole('radio', { name: 'ITL' }));
    expect(onChange).toHaveBeenCalledWith(expect.objectContaining({ runId: 'run-a', metric: 'itl' }));
    fireEvent.click(screen.getByRole('radio', { name: 'CDF' }));
    expect(onChange).toHaveBeenCalledWith(expect.objectContaining({ runId: 'run-a', kind: 'cdf' }));
    // the run picker's options come from GET /runs
    await waitFor(() => expect(screen.getByText(/nightly \(completed/)).toBeInTheDocument());
  });

  it('shows a run picker for run and live, without metric', async () => {
    for (const queryType of [QueryType.Run, QueryType.Live]) {
      const { unmount } = setup({ queryType });
      expect(screen.getByLabelText('Run', field)).toBeInTheDocument();
      expect(screen.queryByRole('radio', { name: 'TTFT' })).not.toBeInTheDocument();
      await waitFor(() => expect(screen.getByTestId('bench-query-editor')).toBeInTheDocument());
      unmount();
    }
  });

  it('shows a multi-run picker for compare and outputs', async () => {
    for (const queryType of [QueryType.Compare, QueryType.Outputs]) {
      const { unmount } = setup({ queryType, runIds: ['run-a', 'run-b'] });
      expect(screen.getByLabelText('Runs', field)).toBeInTheDocument();
      expect(screen.queryByLabelText('Run', field)).not.toBeInTheDocument();
      await waitFor(() => expect(screen.getByText(/nightly \(completed/)).toBeInTheDocument());
      expect(screen.getByText(/run-b \(running/)).toBeInTheDocument();
      unmount();
    }
  });

  it('starts a run with the form and switches the query to live', async () => {
    const { postResource, onChange, onRunQuery } = setup({ queryType: QueryType.Runs, name: 'x' });
    postResource.mockResolvedValue({ id: 'run-new', channel: 'ds/bench-uid/runs/run-new' });
    fireEvent.click(screen.getByRole('button', { name: /Run benchmark/ }));
    expect(screen.getByTestId('bench-run-form')).toBeInTheDocument();

    fireEvent.change(screen.getByLabelText('Target'), { target: { value: 'http://vllm:8000/v1' } });
    fireEvent.change(screen.getAllByLabelText('Model')[0], { target: { value: 'm1' } });
    fireEvent.click(screen.getByRole('radio', { name: 'Custom' }));
    fireEvent.change(screen.getByLabelText('Concurrency'), { target: { value: '8' } });
    fireEvent.change(screen.getByLabelText('Rate (req/s)'), { target: { value: '2.5' } });
    fireEvent.click(screen.getByRole('radio', { name: 'Duration' }));
    fireEvent.change(screen.getByLabelText('Duration', field), { target: { value: '30s' } });
    fireEvent.change(screen.getByLabelText('Input tokens'), { target: { value: '256:1024' } });
    fireEvent.change(screen.getByLabelText('Output tokens'), { target: { value: '128' } });
    fireEvent.click(screen.getByRole('button', { name: /Start run/ }));

    await waitFor(() => expect(postResource).toHaveBeenCalledTimes(1));
    expect(postResource).toHaveBeenCalledWith('runs', {
      target: 'http://vllm:8000/v1',
      model: 'm1',
      concurrency: 8,
      rate: 2.5,
      duration: '30s',
      inputTokens: '256:1024',
      outputTokens: '128',
    });
    await waitFor(() =>
      expect(onChange).toHaveBeenCalledWith({ refId: 'A', queryType: 'live', name: 'x', runId: 'run-new' })
    );
    expect(onRunQuery).toHaveBeenCalled();
    await waitFor(() => expect(screen.queryByTestId('bench-run-form')).not.toBeInTheDocument());
  });

  it('starts a run with a profile and a request count', async () => {
    const { postResource, onChange } = setup();
    postResource.mockResolvedValue({ id: 'run-p', channel: 'ds/bench-uid/runs/run-p' });
    fireEvent.click(screen.getByRole('button', { name: /Run benchmark/ }));
    // the first profile of GET /profiles is chosen once they load
    await waitFor(() => expect(screen.getByText('high-parallelism')).toBeInTheDocument());
    fireEvent.change(screen.getByLabelText('Request count'), { target: { value: '500' } });
    fireEvent.click(screen.getByRole('button', { name: /Start run/ }));
    await waitFor(() =>
      expect(postResource).toHaveBeenCalledWith('runs', { profile: 'high-parallelism', requests: 500 })
    );
    await waitFor(() =>
      expect(onChange).toHaveBeenCalledWith(expect.objectContaining({ queryType: 'live', runId: 'run-p' }))
    );
  });

  it('offers the batch-api profile: a request count only, and says TTFT is n/a', async () => {
    const { postResource } = setup();
    postResource.mockResolvedValue({ id: 'run-b', channel: 'ds/bench-uid/runs/run-b' });
    fireEvent.click(screen.getByRole('button', { name: /Run benchmark/ }));
    await waitFor(() => expect(screen.getByText('high-parallelism')).toBeInTheDocument());
    fireEvent.click(screen.getByRole('radio', { name: 'Duration' }));
    expect(screen.getByTestId('bencher-run-duration')).toBeInTheDocument();
    expect(screen.queryByTestId('bencher-run-batch-note')).not.toBeInTheDocument();

    // jsdom has no IntersectionObserver, which the Select's menu uses for its scroll shadows.
    (window as unknown as { IntersectionObserver: unknown }).IntersectionObserver ??= class {
      observe() {}
      unobserve() {}
      disconnect() {}
    };
    fireEvent.keyDown(document.getElementById('bench-form-profile')!, { key: 'ArrowDown' });
    fireEvent.click(await screen.findByText('batch-api'));
    expect(screen.getByTestId('bencher-run-batch-note')).toHaveTextContent('TTFT, ITL and TPOT do not exist (n/a)');
    expect(screen.getByRole('radio', { name: 'Duration' })).toBeDisabled();
    expect(screen.getByRole('radio', { name: 'Requests' })).toBeChecked();
    fireEvent.change(screen.getByLabelText('Request count'), { target: { value: '200' } });
    fireEvent.click(screen.getByRole('button', { name: /Start run/ }));
    await waitFor(() => expect(postResource).toHaveBeenCalledWith('runs', { profile: 'batch-api', requests: 200 }));
  });

  it('shows the backend error in an alert and keeps the query', async () => {
    const { postResource, onChange, onRunQuery } = setup();
    postResource.mockRejectedValue({
      status: 400,
      statusText: 'Bad Request',
      data: { error: 'concurrency: must be between 1 and 10000, got 20000' },
    });
    fireEvent.click(screen.getByRole('button', { name: /Run benchmark/ }));
    fireEvent.click(screen.getByRole('radio', { name: 'Custom' }));
    fireEvent.change(screen.getByLabelText('Concurrency'), { target: { value: '20000' } });
    fireEvent.click(screen.getByRole('button', { name: /Start run/ }));
    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('Could not start the run: concurrency: must be between 1 and 10000, got 20000');
    expect(onChange).not.toHaveBeenCalled();
    expect(onRunQuery).not.toHaveBeenCalled();
    expect(screen.getByTestId('bench-run-form')).toBeInTheDocument();
  });

  it('shows an error when the runs cannot be listed', async () => {
    const { ds } = makeDataSource();
    jest
      .spyOn(ds, 'listRuns')
      .mockRejectedValue({ status: 503, data: { error: 'invalid settings: resultsDir: required' } });
    render(<QueryEditor datasource={ds} query={{ refId: 'A' }} onChange={jest.fn()} onRunQuery={jest.fn()} />);
    expect(await screen.findByRole('alert')).toHaveTextContent(
      'Could not list the runs: invalid settings: resultsDir: required'
    );
  });

  it('sends labels and record outputs with the run (#8)', async () => {
    const { postResource } = setup();
    postResource.mockResolvedValue({ id: 'run-o', channel: 'ds/bench-uid/runs/run-o' });
    fireEvent.click(screen.getByRole('button', { name: /Run benchmark/ }));
    await waitFor(() => expect(screen.getByText('high-parallelism')).toBeInTheDocument());
    expect(screen.getByTestId('bencher-run-record-outputs')).not.toBeChecked();
    fireEvent.click(screen.getByTestId('bencher-run-record-outputs'));
    expect(screen.getByTestId('bencher-run-record-outputs')).toBeChecked();
    fireEvent.change(screen.getByTestId('bencher-run-labels'), { target: { value: 'team=infra, gpu = h100,' } });
    fireEvent.click(screen.getByTestId('bencher-run-start'));
    await waitFor(() =>
      expect(postResource).toHaveBeenCalledWith('runs', {
        profile: 'high-parallelism',
        requests: 100,
        labels: { team: 'infra', gpu: 'h100' },
        recordOutputs: true,
      })
    );
  });

  it('refuses labels that are not key=value pairs', async () => {
    const { postResource } = setup();
    fireEvent.click(screen.getByRole('button', { name: /Run benchmark/ }));
    fireEvent.change(screen.getByTestId('bencher-run-labels'), { target: { value: 'team=infra, gpu' } });
    expect(screen.getByText('"gpu" is not key=value')).toBeInTheDocument();
    expect(screen.getByTestId('bencher-run-start')).toBeDisabled();
    fireEvent.click(screen.getByTestId('bencher-run-start'));
    fireEvent.change(screen.getByTestId('bencher-run-labels'), { target: { value: 'team=infra' } });
    expect(screen.queryByText('"gpu" is not key=value')).not.toBeInTheDocument();
    expect(screen.getByTestId('bencher-run-start')).toBeEnabled();
    expect(postResource).not.toHaveBeenCalled();
    await waitFor(() => expect(screen.getByText('high-parallelism')).toBeInTheDocument());
  });

  it('gives every control of the run form, the pickers and the status a bencher- test id', async () => {
    const { postResource } = setup({ queryType: QueryType.Live });
    expect(screen.getByTestId('bencher-query-type')).toBeInTheDocument();
    expect(screen.getByTestId('bencher-run-picker')).toBeInTheDocument();
    expect(screen.getByTestId('bencher-run-picker-input')).toBeInTheDocument();
    fireEvent.click(screen.getByTestId('bencher-run-toggle'));
    const ids = [
      'bencher-run-form',
      'bench-run-form',
      'bencher-run-target',
      'bencher-run-model',
      'bencher-run-load',
      'bencher-run-profile',
      'bencher-run-profile-input',
      'bencher-run-bound',
      'bencher-run-requests',
      'bencher-run-input-tokens',
      'bencher-run-output-tokens',
      'bencher-run-name',
      'bencher-run-labels',
      'bencher-run-record-outputs',
      'bencher-run-start',
    ];
    for (const id of ids) {
      expect(screen.getByTestId(id)).toBeInTheDocument();
    }
    // text inputs carry their test id themselves, so a browser test can fill them
    for (const id of ['bencher-run-name', 'bencher-run-requests', 'bencher-run-labels']) {
      expect(screen.getByTestId(id).tagName).toBe('INPUT');
    }
    fireEvent.click(screen.getByRole('radio', { name: 'Custom' }));
    expect(screen.getByTestId('bencher-run-concurrency').tagName).toBe('INPUT');
    expect(screen.getByTestId('bencher-run-rate')).toBeInTheDocument();
    fireEvent.click(screen.getByRole('radio', { name: 'Duration' }));
    expect(screen.getByTestId('bencher-run-duration')).toBeInTheDocument();

    postResource.mockResolvedValue({ id: 'run-t', channel: 'ds/bench-uid/runs/run-t' });
    fireEvent.change(screen.getByTestId('bencher-run-concurrency'), { target: { value: '2' } });
    fireEvent.click(screen.getByTestId('bencher-run-start'));
    expect(await screen.findByTestId('bencher-run-status')).toHaveAttribute('data-run-id', 'run-t');
  });

  it('gives the multi-run picker a test id', async () => {
    setup({ queryType: QueryType.Outputs });
    expect(screen.getByTestId('bencher-runs-picker')).toBeInTheDocument();
    await waitFor(() => expect(screen.getByTestId('bench-query-editor')).toBeInTheDocument());
  });

  describe('while a run is running', () => {
    beforeEach(() => jest.useFakeTimers());
    afterEach(() => {
      cleanup(); // unmount before the timers left run
      jest.runOnlyPendingTimers();
      jest.useRealTimers();
    });

    /** A data source whose GET /runs answers `current` at the time of the call. */
    function withRuns(initial: RunListItem[]) {
      const made = makeDataSource();
      const state = { current: initial };
      made.getResource.mockImplementation(async (path: string) => {
        switch (path) {
          case 'runs':
            return { runs: state.current };
          case 'profiles':
            return profilesBody;
        }
        throw new Error(`unexpected GET ${path}`);
      });
      return { ...made, state };
    }
    const running: RunListItem = {
      id: 'run-b',
      status: 'running',
      progress: { id: 'run-b', status: 'running', time: '2026-11-27T11:00:00Z', done: 3, total: 10 },
    };
    const completed: RunListItem = {
      id: 'run-b',
      status: 'completed',
      header: { name: 'run-b', environment: { start_time: '2026-11-27T11:00:00Z' } },
    };
    const runsCalls = (getResource: jest.Mock | jest.SpyInstance) =>
      getResource.mock.calls.filter((c: unknown[]) => c[0] === 'runs').length;

    it('the run picker asks again until the run has ended (#9)', async () => {
      const { ds, getResource, state } = withRuns([runsBody.runs[0], running]);
      render(
        <QueryEditor
          datasource={ds}
          query={{ refId: 'A', queryType: QueryType.Live, runId: 'run-b' }}
          onChange={jest.fn()}
          onRunQuery={jest.fn()}
        />
      );
      expect(await screen.findByText(/run-b \(running/)).toBeInTheDocument();
      expect(runsCalls(getResource)).toBe(1);

      // still running: the next poll keeps it so
      await act(async () => {
        jest.advanceTimersByTime(RUNS_POLL_MS);
      });
      expect(runsCalls(getResource)).toBe(2);
      expect(screen.getByText(/run-b \(running/)).toBeInTheDocument();

      // the run ends: the picker says so at the next poll
      state.current = [runsBody.runs[0], completed];
      await act(async () => {
        jest.advanceTimersByTime(RUNS_POLL_MS);
      });
      expect(await screen.findByText(/run-b \(completed/)).toBeInTheDocument();
      expect(screen.queryByText(/run-b \(running/)).not.toBeInTheDocument();

      // nothing runs any more: no more polls
      const calls = runsCalls(getResource);
      await act(async () => {
        jest.advanceTimersByTime(RUNS_POLL_MS * 5);
      });
      expect(runsCalls(getResource)).toBe(calls);
    });

    it("a batch run's status line shows its batch's status", async () => {
      const batch: RunListItem = {
        ...running,
        progress: { ...running.progress!, done: 12, total: 30, batchStatus: 'in_progress' },
      };
      const { ds, postResource, state } = withRuns([runsBody.runs[0]]);
      postResource.mockImplementation(async () => {
        state.current = [runsBody.runs[0], batch];
        return { id: 'run-b', channel: 'ds/bench-uid/runs/run-b' };
      });
      render(<QueryEditor datasource={ds} query={{ refId: 'A' }} onChange={jest.fn()} onRunQuery={jest.fn()} />);
      fireEvent.click(screen.getByTestId('bencher-run-toggle'));
      await waitFor(() => expect(screen.getByText('high-parallelism')).toBeInTheDocument());
      fireEvent.click(screen.getByTestId('bencher-run-start'));
      const status = await screen.findByTestId('bencher-run-status');
      await waitFor(() => expect(status).toHaveAttribute('data-status', 'running'));
      expect(screen.getByTestId('bencher-run-status-text')).toHaveTextContent(
        'running: 12 of 30 requests (batch in_progress)'
      );
    });

    it('does not poll when no run is running', async () => {
      const { ds, getResource } = withRuns([runsBody.runs[0]]);
      render(
        <QueryEditor
          datasource={ds}
          query={{ refId: 'A', queryType: QueryType.Run, runId: 'run-a' }}
          onChange={jest.fn()}
          onRunQuery={jest.fn()}
        />
      );
      expect(await screen.findByText(/nightly \(completed/)).toBeInTheDocument();
      await act(async () => {
        jest.advanceTimersByTime(RUNS_POLL_MS * 5);
      });
      expect(runsCalls(getResource)).toBe(1);
    });

    it('stops polling when the editor is closed', async () => {
      const { ds, getResource } = withRuns([running]);
      const { unmount } = render(
        <QueryEditor
          datasource={ds}
          query={{ refId: 'A', queryType: QueryType.Live, runId: 'run-b' }}
          onChange={jest.fn()}
          onRunQuery={jest.fn()}
        />
      );
      expect(await screen.findByText(/run-b \(running/)).toBeInTheDocument();
      unmount();
      await act(async () => {
        jest.advanceTimersByTime(RUNS_POLL_MS * 5);
      });
      expect(runsCalls(getResource)).toBe(1);
    });

    it('the status line follows the started run to its end, and can cancel it', async () => {
      const { ds, postResource, state } = withRuns([runsBody.runs[0]]);
      postResource.mockImplementation(async (path: string) => {
        if (path === 'runs') {
          state.current = [runsBody.runs[0], running];
          return { id: 'run-b', channel: 'ds/bench-uid/runs/run-b' };
        }
        state.current = [runsBody.runs[0], { ...completed, status: 'interrupted' }];
        return { id: 'run-b', status: 'cancelling' };
      });
      render(<QueryEditor datasource={ds} query={{ refId: 'A' }} onChange={jest.fn()} onRunQuery={jest.fn()} />);
      fireEvent.click(screen.getByTestId('bencher-run-toggle'));
      await waitFor(() => expect(screen.getByText('high-parallelism')).toBeInTheDocument());
      fireEvent.click(screen.getByTestId('bencher-run-start'));
      const status = await screen.findByTestId('bencher-run-status');
      expect(status).toHaveAttribute('data-run-id', 'run-b');
      await waitFor(() => expect(status).toHaveAttribute('data-status', 'running'));
      expect(screen.getByTestId('bencher-run-status-text')).toHaveTextContent('running: 3 of 10 requests');

      // the cancel ends the run; the editor asks for the runs at once
      fireEvent.click(screen.getByTestId('bencher-run-cancel'));
      await waitFor(() =>
        expect(screen.getByTestId('bencher-run-status')).toHaveAttribute('data-status', 'interrupted')
      );
      expect(postResource).toHaveBeenCalledWith('runs/run-b/cancel', {});
      expect(screen.getByTestId('bencher-run-status-text')).toHaveTextContent('interrupted');
      expect(screen.queryByTestId('bencher-run-cancel')).not.toBeInTheDocument();
    });
  });
});

describe('parseLabels', () => {
  it('reads comma-separated key=value pairs', () => {
    expect(parseLabels('')).toEqual({ labels: {} });
    expect(parseLabels(' team=infra ,gpu= h100, ,empty=')).toEqual({
      labels: { team: 'infra', gpu: 'h100', empty: '' },
    });
    expect(parseLabels('url=http://x/?a=b')).toEqual({ labels: { url: 'http://x/?a=b' } });
  });

  it('says what is wrong', () => {
    expect(parseLabels('team').error).toBe('"team" is not key=value');
    expect(parseLabels('=x').error).toBe('"=x" has no key');
    expect(parseLabels('a=1, a=2').error).toBe('"a" is given twice');
    expect(parseLabels(`${'k'.repeat(101)}=v`).error).toMatch(/longer than 100 characters/);
    expect(parseLabels(`k=${'v'.repeat(201)}`).error).toMatch(/value of "k" is longer than 200/);
    const many = Array.from({ length: 33 }, (_, i) => `k${i}=v`).join(',');
    expect(parseLabels(many).error).toBe('more than 32 labels');
  });
});
