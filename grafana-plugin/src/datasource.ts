import { CoreApp, DataSourceInstanceSettings, ScopedVars } from '@grafana/data';
import { DataSourceWithBackend, getTemplateSrv } from '@grafana/runtime';

import {
  BenchOptions,
  BenchQuery,
  DEFAULT_QUERY,
  FILTER_TEXT_FIELDS,
  LabelStudioExportRequest,
  LabelStudioExportResponse,
  Profile,
  QueryType,
  RunListItem,
  RunSpec,
  StartResponse,
} from './types';

/** The Benchstation bencher data source: queries, resources and annotations go to the Go backend. */
export class DataSource extends DataSourceWithBackend<BenchQuery, BenchOptions> {
  constructor(instanceSettings: DataSourceInstanceSettings<BenchOptions>) {
    super(instanceSettings);
    // Annotations: the backend's "annotations" query type answers them (runs
    // as regions). The standard annotations support of backend data sources
    // runs the annotation's target through query(); the editor shows the run
    // filters, and the query type is always "annotations".
    this.annotations = {
      prepareQuery: (anno) => ({
        ...(anno.target ?? {}),
        refId: anno.target?.refId || 'Anno',
        queryType: QueryType.Annotations,
      }),
    };
  }

  getDefaultQuery(_: CoreApp): Partial<BenchQuery> {
    return DEFAULT_QUERY;
  }

  /** Replaces template variables in the filter fields, the run ids and the labels. */
  applyTemplateVariables(query: BenchQuery, scopedVars: ScopedVars): BenchQuery {
    const srv = getTemplateSrv();
    const out: BenchQuery = { ...query };
    for (const f of FILTER_TEXT_FIELDS) {
      const v = query[f];
      if (typeof v === 'string' && v !== '') {
        (out as any)[f] = srv.replace(v, scopedVars);
      }
    }
    if (query.labels) {
      out.labels = query.labels.map((l) => srv.replace(l, scopedVars)).filter((l) => l !== '');
    }
    if (query.runIds) {
      // A multi-value variable expands to "{a,b}" with the csv format; split it.
      out.runIds = query.runIds
        .flatMap((id) => srv.replace(id, scopedVars, 'csv').split(','))
        .map((id) => id.trim())
        .filter((id) => id !== '');
    }
    return out;
  }

  /** Leaves out queries that cannot be answered yet (a run query without a run). */
  filterQuery(query: BenchQuery): boolean {
    if (query.hide) {
      return false;
    }
    switch (query.queryType) {
      case QueryType.Run:
      case QueryType.Live:
        return !!query.runId;
      case QueryType.Compare:
        return (query.runIds?.length ?? 0) > 0;
      case QueryType.Distribution: // one run, or a run and its baseline in one histogram
      case QueryType.Outputs:
        return !!query.runId || (query.runIds?.length ?? 0) > 0;
    }
    return true;
  }

  /** GET /profiles: the named load shapes. */
  async getProfiles(): Promise<Profile[]> {
    const res = await this.getResource<{ profiles: Profile[] }>('profiles');
    return res?.profiles ?? [];
  }

  /** GET /runs: finished and running runs. */
  async listRuns(): Promise<RunListItem[]> {
    const res = await this.getResource<{ runs: RunListItem[] }>('runs');
    return res?.runs ?? [];
  }

  /** POST /runs: starts a run; rejects with the backend's error. */
  startRun(spec: RunSpec): Promise<StartResponse> {
    return this.postResource<StartResponse>('runs', spec);
  }

  /**
   * POST /export/labelstudio: sends the recorded outputs of one run (rating
   * tasks) or two (pairwise tasks) to Label Studio; rejects with the
   * backend's error. Template variables in the run ids are replaced.
   */
  exportToLabelStudio(req: LabelStudioExportRequest): Promise<LabelStudioExportResponse> {
    const srv = getTemplateSrv() as ReturnType<typeof getTemplateSrv> | undefined;
    const runIds = req.runIds
      .flatMap((id) => (srv ? srv.replace(id, undefined, 'csv') : id).split(','))
      .map((id) => id.trim())
      .filter((id) => id !== '');
    return this.postResource<LabelStudioExportResponse>('export/labelstudio', { ...req, runIds });
  }

  /** POST /runs/{id}/cancel. */
  cancelRun(id: string): Promise<{ id: string; status: string }> {
    return this.postResource(`runs/${encodeURIComponent(id)}/cancel`, {});
  }
}

/** The message of an error thrown by getResource/postResource (a FetchError with the backend's {"error": …} body). */
export function errorMessage(err: unknown): string {
  const e = err as any;
  return (
    e?.data?.error ||
    e?.data?.message ||
    e?.message ||
    (e?.status ? `request failed with status ${e.status}${e.statusText ? ' ' + e.statusText : ''}` : '') ||
    String(err)
  );
}
