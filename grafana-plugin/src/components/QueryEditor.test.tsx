import React from 'react';
import { fireEvent, render, screen, waitFor } from '@testing-library/react';

import { QueryEditor } from './QueryEditor';
import { BenchQuery, QueryType } from '../types';
import { makeDataSource } from '../test/fixtures';

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
});
