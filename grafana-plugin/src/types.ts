// The query model, settings and resource bodies of the Benchstation bencher
// data source. Everything that mirrors the Go backend (grafana-plugin/pkg/plugin)
// lives in this one file so that it is easy to adjust when the backend changes.
import { DataSourceJsonData } from '@grafana/data';
import { DataQuery } from '@grafana/schema';

/** The query types the backend answers (datasource.go's QueryType* constants). */
export enum QueryType {
  Runs = 'runs',
  Run = 'run',
  Live = 'live',
  Distribution = 'distribution',
  Compare = 'compare',
  Outputs = 'outputs',
  Trend = 'trend',
  Annotations = 'annotations',
}

/** The query types offered in the query editor's picker, in order. */
export const QUERY_TYPE_OPTIONS: Array<{ label: string; value: QueryType; description: string }> = [
  { label: 'Runs', value: QueryType.Runs, description: 'A table of the runs in the time range' },
  { label: 'Run', value: QueryType.Run, description: 'One run over time' },
  { label: 'Live', value: QueryType.Live, description: 'The live progress of a running benchmark' },
  { label: 'Distribution', value: QueryType.Distribution, description: 'Latency histogram or CDF of one run' },
  { label: 'Compare', value: QueryType.Compare, description: 'Two or more runs side by side' },
  { label: 'Outputs', value: QueryType.Outputs, description: 'Prompts and generated texts of runs' },
  { label: 'Trend', value: QueryType.Trend, description: 'A summary value per profile over time' },
];

/** Latency metrics of the distribution query. */
export type DistributionMetric = 'ttft' | 'itl' | 'e2el' | 'tpot';
export const METRIC_OPTIONS: Array<{ label: string; value: DistributionMetric }> = [
  { label: 'TTFT', value: 'ttft' },
  { label: 'ITL', value: 'itl' },
  { label: 'E2E latency', value: 'e2el' },
  { label: 'TPOT', value: 'tpot' },
];

/** Shapes of the distribution query. */
export type DistributionKind = 'histogram' | 'cdf';
export const KIND_OPTIONS: Array<{ label: string; value: DistributionKind }> = [
  { label: 'Histogram', value: 'histogram' },
  { label: 'CDF', value: 'cdf' },
];

/** Run statuses a filter accepts (query.go's statuses). */
export type RunStatus = 'completed' | 'interrupted' | 'failed';
export const STATUS_OPTIONS: Array<{ label: string; value: RunStatus }> = [
  { label: 'Completed', value: 'completed' },
  { label: 'Interrupted', value: 'interrupted' },
  { label: 'Failed', value: 'failed' },
];

/** Filter selects runs (query.go's Filter); every set field must match. */
export interface RunFilter {
  name?: string;
  /** "key=value" pairs. */
  labels?: string[];
  profile?: string;
  model?: string;
  status?: RunStatus | '';
  /** Runs of this many requests (a matrix's size), as text so that a variable can give it. */
  size?: string;
}

/**
 * BenchQuery is the union of the query models: runs and trend use the filter,
 * run/live/distribution use runId, compare/outputs use runIds.
 */
export interface BenchQuery extends DataQuery, RunFilter {
  queryType?: QueryType | string;
  /** trend: a summary value name such as "ttft_p95". */
  value?: string;
  /** run, live, distribution, outputs (one run). */
  runId?: string;
  /** compare, outputs (two runs side by side). */
  runIds?: string[];
  /** distribution. */
  metric?: DistributionMetric;
  kind?: DistributionKind;
}

export const DEFAULT_QUERY: Partial<BenchQuery> = {
  queryType: QueryType.Runs,
};

/** The fields of the filter that hold text (template variables are applied to them). */
export const FILTER_TEXT_FIELDS = ['name', 'profile', 'model', 'status', 'size', 'value', 'runId'] as const;

/** jsonData of a data source instance (settings.go's JSONData; unknown fields are rejected). */
export interface BenchOptions extends DataSourceJsonData {
  defaultTarget?: string;
  allowedHosts?: string[];
  resultsDir?: string;
  prometheusUrl?: string;
  maxConcurrentRuns?: number;
  /** Label Studio's base URL (POST /export/labelstudio); its host must be an allowed host. */
  labelStudioUrl?: string;
}

/** secureJsonData of a data source instance. */
export interface BenchSecureJsonData {
  apiKey?: string;
  /** Label Studio's token (legacy token or personal access token), sent to labelStudioUrl only. */
  labelStudioToken?: string;
}

/**
 * The body of POST /export/labelstudio (labelstudio.go's ExportRequest;
 * unknown fields are rejected): the runs of an outputs view into an
 * existing project (projectId) or a new one (createProject, its title).
 */
export interface LabelStudioExportRequest {
  runIds: string[];
  projectId?: number;
  createProject?: string;
  includeFailed?: boolean;
}

/** The body of a 200 answer to POST /export/labelstudio (ExportResponse). */
export interface LabelStudioExportResponse {
  kind: 'rating' | 'pairwise';
  tasks: number;
  batches: number;
  projectId: number;
  projectUrl: string;
  created: boolean;
  leftOut: { failed: number; notSent: number; unpaired: number; promptsDiffer: number };
}

/** The body of POST /runs (spec.go's RunSpec; unknown fields are rejected). */
export interface RunSpec {
  target?: string;
  model?: string;
  api?: 'completions' | 'chat' | '';
  profile?: string;
  concurrency?: number;
  rate?: number;
  requests?: number;
  duration?: string;
  inputTokens?: string;
  outputTokens?: string;
  name?: string;
  labels?: Record<string, string>;
  /** Keep prompts and generated texts in the run's document (the outputs query). */
  recordOutputs?: boolean;
}

/** The body of a 201 answer to POST /runs. */
export interface StartResponse {
  id: string;
  channel: string;
}

/** How a profile's runs send their requests. */
export type ProfileMode = 'online' | 'batch-api';

/** The profile mode whose runs are one Batch API job. */
export const MODE_BATCH_API: ProfileMode = 'batch-api';

/** A profile of GET /profiles. */
export interface Profile {
  name: string;
  description: string;
  /** "online" (each request on its own) or "batch-api" (one Batch API job: no TTFT, ITL or TPOT). */
  mode?: ProfileMode;
  concurrency: number;
  retries: number;
}

/** The run header of a result document (the fields the editor uses). */
export interface RunHeader {
  name?: string;
  labels?: Record<string, string>;
  profile?: string;
  environment?: { model?: string; start_time?: string };
}

/** The progress of a running run. */
export interface RunProgress {
  id: string;
  status: string;
  time: string;
  done: number;
  total: number;
  /** A batch-api run's batch status at its latest poll (validating, in_progress, …); absent for other runs. */
  batchStatus?: string;
}

/** One run of GET /runs. */
export interface RunListItem {
  id: string;
  status: string;
  header?: RunHeader;
  progress?: RunProgress;
}
