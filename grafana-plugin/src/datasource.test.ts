import { ScopedVars } from '@grafana/data';

import { errorMessage } from './datasource';
import { BenchQuery, QueryType } from './types';
import { makeDataSource } from './test/fixtures';

const vars: Record<string, string | string[]> = { model: 'm1', runs: ['run-a', 'run-b'], label: 'ci=true' };

jest.mock('@grafana/runtime', () => ({
  ...jest.requireActual('@grafana/runtime'),
  getTemplateSrv: () => ({
    replace: (s: string, _vars?: ScopedVars, format?: string) =>
      s.replace(/\$(\w+)/g, (_m, name) => {
        const v = vars[name];
        return Array.isArray(v) ? (format === 'csv' ? v.join(',') : `{${v.join(',')}}`) : (v ?? '');
      }),
  }),
}));

describe('DataSource', () => {
  it('applies template variables to filters, labels and run ids', () => {
    const { ds } = makeDataSource();
    const q: BenchQuery = {
      refId: 'A',
      queryType: QueryType.Compare,
      model: '$model',
      labels: ['$label', 'gpu=h100'],
      runIds: ['$runs', 'run-c'],
    };
    expect(ds.applyTemplateVariables(q, {})).toEqual({
      refId: 'A',
      queryType: 'compare',
      model: 'm1',
      labels: ['ci=true', 'gpu=h100'],
      runIds: ['run-a', 'run-b', 'run-c'],
    });
  });

  it('skips run queries without a run', () => {
    const { ds } = makeDataSource();
    expect(ds.filterQuery({ refId: 'A', queryType: QueryType.Live })).toBe(false);
    expect(ds.filterQuery({ refId: 'A', queryType: QueryType.Live, runId: 'r' })).toBe(true);
    expect(ds.filterQuery({ refId: 'A', queryType: QueryType.Compare, runIds: [] })).toBe(false);
    // The Benchmarks dashboard's histograms ask for the run and its baseline as runIds.
    expect(ds.filterQuery({ refId: 'A', queryType: QueryType.Distribution, runIds: ['latest', 'previous'] })).toBe(
      true
    );
    expect(ds.filterQuery({ refId: 'A', queryType: QueryType.Distribution, runIds: [] })).toBe(false);
    expect(ds.filterQuery({ refId: 'A', queryType: QueryType.Runs })).toBe(true);
  });

  it('calls the resource endpoints', async () => {
    const { ds, getResource, postResource } = makeDataSource();
    postResource.mockResolvedValue({ id: 'r1', status: 'cancelling' });
    expect((await ds.listRuns()).map((r) => r.id)).toEqual(['run-a', 'run-b']);
    expect((await ds.getProfiles()).map((p) => p.name)).toEqual(['high-parallelism', 'inngest-style', 'batch-api']);
    expect(getResource).toHaveBeenCalledWith('runs');
    await ds.cancelRun('r/1');
    expect(postResource).toHaveBeenCalledWith('runs/r%2F1/cancel', {});
    await ds.startRun({ profile: 'inngest-style', requests: 10 });
    expect(postResource).toHaveBeenLastCalledWith('runs', { profile: 'inngest-style', requests: 10 });
  });

  it('sends annotations as the annotations query type', () => {
    const { ds } = makeDataSource();
    const q = ds.annotations!.prepareQuery!({ target: { refId: 'X', name: 'nightly' } } as any);
    expect(q).toEqual({ refId: 'X', name: 'nightly', queryType: 'annotations' });
  });

  it('reads the backend error message', () => {
    expect(errorMessage({ status: 403, data: { error: 'only users with the Editor role' } })).toBe(
      'only users with the Editor role'
    );
    expect(errorMessage(new Error('boom'))).toBe('boom');
    expect(errorMessage({ status: 502, statusText: 'Bad Gateway' })).toBe('request failed with status 502 Bad Gateway');
  });
});
