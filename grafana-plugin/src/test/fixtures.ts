import { DataSourceInstanceSettings, PluginType } from '@grafana/data';

import { DataSource } from '../datasource';
import { BenchOptions } from '../types';

export const instanceSettings: DataSourceInstanceSettings<BenchOptions> = {
  id: 1,
  uid: 'bench-uid',
  type: 'benchstation-bencher-datasource',
  name: 'Bencher',
  access: 'proxy',
  readOnly: false,
  jsonData: { resultsDir: '/data/results' },
  meta: {
    id: 'benchstation-bencher-datasource',
    name: 'Benchstation bencher',
    type: PluginType.datasource,
    module: '',
    baseUrl: '',
    info: {
      author: { name: 'Benchstation' },
      description: '',
      links: [],
      logos: { small: '', large: '' },
      screenshots: [],
      updated: '',
      version: '',
    },
  },
};

export const runsBody = {
  runs: [
    {
      id: 'run-a',
      status: 'completed',
      header: {
        name: 'nightly',
        profile: 'high-parallelism',
        environment: { model: 'm1', start_time: '2026-11-27T10:00:00Z' },
      },
    },
    {
      id: 'run-b',
      status: 'running',
      progress: { id: 'run-b', status: 'running', time: '2026-11-27T11:00:00Z', done: 3, total: 10 },
    },
  ],
};

export const profilesBody = {
  profiles: [
    {
      name: 'high-parallelism',
      description: '50 concurrent requests, no retries',
      mode: 'online',
      concurrency: 50,
      retries: 0,
    },
    { name: 'inngest-style', description: 'a durable job queue', mode: 'online', concurrency: 10, retries: 5 },
    {
      name: 'batch-api',
      description: 'all requests as one Batch API job',
      mode: 'batch-api',
      concurrency: 0,
      retries: 0,
    },
  ],
};

/** A real DataSource whose resource calls are jest mocks answering the fixtures. */
export function makeDataSource() {
  const ds = new DataSource(instanceSettings);
  const getResource = jest.spyOn(ds, 'getResource').mockImplementation(async (path: string) => {
    switch (path) {
      case 'runs':
        return runsBody;
      case 'profiles':
        return profilesBody;
    }
    throw new Error(`unexpected GET ${path}`);
  });
  const postResource = jest.spyOn(ds, 'postResource');
  return { ds, getResource, postResource };
}
