import React, { ChangeEvent, useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { QueryEditorProps, SelectableValue } from '@grafana/data';
import {
  Alert,
  Button,
  InlineField,
  InlineFieldRow,
  InlineSwitch,
  Input,
  MultiSelect,
  RadioButtonGroup,
  Select,
  TagsInput,
} from '@grafana/ui';

import { DataSource, errorMessage } from '../datasource';
import { LabelStudioExport } from './LabelStudioExport';
import {
  BenchOptions,
  BenchQuery,
  KIND_OPTIONS,
  METRIC_OPTIONS,
  MODE_BATCH_API,
  Profile,
  QUERY_TYPE_OPTIONS,
  QueryType,
  RunListItem,
  RunSpec,
  STATUS_OPTIONS,
} from '../types';

type Props = QueryEditorProps<DataSource, BenchQuery, BenchOptions>;

const LABEL_WIDTH = 16;

/** The query types whose query is a run filter. */
const FILTER_TYPES: string[] = [QueryType.Runs, QueryType.Trend, QueryType.Annotations];
/** The query types that read one run. */
const ONE_RUN_TYPES: string[] = [QueryType.Run, QueryType.Live, QueryType.Distribution];
/** The query types that read several runs. */
const MANY_RUN_TYPES: string[] = [QueryType.Compare, QueryType.Outputs];

/** How often the editor asks GET /runs again while a listed run is still running. */
export const RUNS_POLL_MS = 2000;

/** The status GET /runs gives a run that is still going. */
const RUNNING = 'running';

/** Limits of spec.go's checkNames. */
const MAX_LABELS = 32;
const MAX_LABEL_KEY = 100;
const MAX_LABEL_VALUE = 200;

/**
 * parseLabels reads the run form's labels, "key=value" pairs separated by
 * commas ("team=infra, gpu=h100"), into RunSpec.labels; error says what is
 * wrong with them (the backend's limits, a pair without "=", a repeated key).
 */
export function parseLabels(text: string): { labels: Record<string, string>; error?: string } {
  const labels: Record<string, string> = {};
  const pairs = text
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq < 0) {
      return { labels, error: `"${pair}" is not key=value` };
    }
    const key = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    if (key === '') {
      return { labels, error: `"${pair}" has no key` };
    }
    if (key.length > MAX_LABEL_KEY) {
      return { labels, error: `the key "${key.slice(0, 20)}…" is longer than ${MAX_LABEL_KEY} characters` };
    }
    if (value.length > MAX_LABEL_VALUE) {
      return { labels, error: `the value of "${key}" is longer than ${MAX_LABEL_VALUE} characters` };
    }
    if (key in labels) {
      return { labels, error: `"${key}" is given twice` };
    }
    labels[key] = value;
  }
  if (Object.keys(labels).length > MAX_LABELS) {
    return { labels, error: `more than ${MAX_LABELS} labels` };
  }
  return { labels };
}

/** What the status line says of a run: its status and, while it runs, its progress. */
function runStatusText(r: RunListItem | undefined): string {
  if (!r) {
    return 'starting';
  }
  const p = r.progress;
  if (r.status === RUNNING && p) {
    const done = p.total > 0 ? `running: ${p.done} of ${p.total} requests` : `running: ${p.done} requests done`;
    // a batch's counts are the server's, as of its batch's latest poll
    return p.batchStatus ? `${done} (batch ${p.batchStatus})` : done;
  }
  return r.status;
}

function runLabel(r: RunListItem): string {
  const name = r.header?.name || r.id;
  const start = r.header?.environment?.start_time || r.progress?.time;
  return `${name} (${r.status}${start ? ', ' + start : ''})`;
}

export function QueryEditor({ query, onChange, onRunQuery, datasource }: Props) {
  const queryType = query.queryType || QueryType.Runs;
  const [runs, setRuns] = useState<RunListItem[]>([]);
  const [profiles, setProfiles] = useState<Profile[]>([]);
  const [error, setError] = useState<string | undefined>();
  const [showForm, setShowForm] = useState(false);
  /** The run this editor started last; the status line follows it. */
  const [started, setStarted] = useState<string | undefined>();
  const mounted = useRef(true);
  useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
    };
  }, []);

  const loadRuns = useCallback(async () => {
    try {
      const r = await datasource.listRuns();
      if (mounted.current) {
        setRuns(r);
      }
    } catch (e) {
      if (mounted.current) {
        setError(`Could not list the runs: ${errorMessage(e)}`);
      }
    }
  }, [datasource]);

  useEffect(() => {
    let live = true;
    datasource
      .listRuns()
      .then((r) => live && setRuns(r))
      .catch((e) => live && setError(`Could not list the runs: ${errorMessage(e)}`));
    datasource
      .getProfiles()
      .then((p) => live && setProfiles(p))
      .catch((e) => live && setError(`Could not list the profiles: ${errorMessage(e)}`));
    return () => {
      live = false;
    };
  }, [datasource]);

  // GET /runs is a snapshot: while a listed run is still running, ask again
  // so that the pickers and the status line see it end.
  const anyRunning = runs.some((r) => r.status === RUNNING);
  useEffect(() => {
    if (!anyRunning) {
      return;
    }
    const t = setInterval(loadRuns, RUNS_POLL_MS);
    return () => clearInterval(t);
  }, [anyRunning, loadRuns]);

  const runOptions: Array<SelectableValue<string>> = useMemo(
    () => runs.map((r) => ({ label: runLabel(r), value: r.id, description: r.header?.environment?.model })),
    [runs]
  );
  const startedRun = started ? runs.find((r) => r.id === started) : undefined;

  const update = (patch: Partial<BenchQuery>, run = false) => {
    onChange({ ...query, ...patch });
    if (run) {
      onRunQuery();
    }
  };
  const text = (field: keyof BenchQuery) => (e: ChangeEvent<HTMLInputElement>) =>
    update({ [field]: e.target.value } as Partial<BenchQuery>);

  const onStarted = (id: string) => {
    setShowForm(false);
    setError(undefined);
    setStarted(id);
    onChange({ ...query, queryType: QueryType.Live, runId: id });
    onRunQuery();
    loadRuns();
  };

  const onCancel = async (id: string) => {
    try {
      await datasource.cancelRun(id);
    } catch (e) {
      setError(`Could not cancel the run: ${errorMessage(e)}`);
    }
    loadRuns();
  };

  const isAnnotation = queryType === QueryType.Annotations;

  return (
    <div data-testid="bench-query-editor">
      {error && (
        <Alert title="Benchstation bencher" severity="error" onRemove={() => setError(undefined)}>
          {error}
        </Alert>
      )}
      {!isAnnotation && (
        <InlineFieldRow>
          <InlineField label="Query type" labelWidth={LABEL_WIDTH}>
            <div data-testid="bencher-query-type">
              <RadioButtonGroup<string>
                options={QUERY_TYPE_OPTIONS}
                value={queryType}
                onChange={(v) => update({ queryType: v }, true)}
              />
            </div>
          </InlineField>
          <Button
            variant="secondary"
            icon={showForm ? 'angle-up' : 'play'}
            onClick={() => setShowForm(!showForm)}
            aria-expanded={showForm}
            data-testid="bencher-run-toggle"
          >
            Run benchmark
          </Button>
        </InlineFieldRow>
      )}

      {showForm && (
        <RunForm datasource={datasource} profiles={profiles} onStarted={onStarted} onError={(msg) => setError(msg)} />
      )}

      {started && (
        <Alert
          title={`Run ${started}`}
          severity={
            !startedRun || startedRun.status === RUNNING
              ? 'info'
              : startedRun.status === 'completed'
                ? 'success'
                : 'warning'
          }
          onRemove={() => setStarted(undefined)}
          data-testid="bencher-run-status"
          data-run-id={started}
          data-status={startedRun?.status ?? 'starting'}
        >
          <span data-testid="bencher-run-status-text">{runStatusText(startedRun)}</span>
          {startedRun?.status === RUNNING && (
            <Button
              size="sm"
              variant="secondary"
              fill="text"
              icon="times"
              onClick={() => onCancel(started)}
              data-testid="bencher-run-cancel"
            >
              Cancel run
            </Button>
          )}
        </Alert>
      )}

      {ONE_RUN_TYPES.includes(queryType) && (
        <InlineFieldRow>
          <InlineField label="Run" labelWidth={LABEL_WIDTH} tooltip="The run to show (GET /runs)">
            <Select
              inputId="bench-run-id"
              data-testid="bencher-run-picker"
              aria-label="Run"
              width={60}
              options={runOptions}
              value={query.runId || null}
              allowCustomValue
              isClearable
              placeholder="Choose a run"
              onChange={(v) => update({ runId: v?.value ?? '' }, true)}
              onOpenMenu={loadRuns}
            />
          </InlineField>
        </InlineFieldRow>
      )}

      {queryType === QueryType.Distribution && (
        <InlineFieldRow>
          <InlineField label="Metric" labelWidth={LABEL_WIDTH}>
            <RadioButtonGroup<string>
              options={METRIC_OPTIONS}
              value={query.metric ?? 'ttft'}
              onChange={(v) => update({ metric: v as BenchQuery['metric'] }, true)}
            />
          </InlineField>
          <InlineField label="Kind">
            <RadioButtonGroup<string>
              options={KIND_OPTIONS}
              value={query.kind ?? 'histogram'}
              onChange={(v) => update({ kind: v as BenchQuery['kind'] }, true)}
            />
          </InlineField>
        </InlineFieldRow>
      )}

      {MANY_RUN_TYPES.includes(queryType) && (
        <InlineFieldRow>
          <InlineField
            label="Runs"
            labelWidth={LABEL_WIDTH}
            tooltip={queryType === QueryType.Outputs ? 'One run, or two side by side' : 'Two or more runs'}
          >
            <MultiSelect
              inputId="bench-run-ids"
              data-testid="bencher-runs-picker"
              aria-label="Runs"
              width={60}
              options={runOptions}
              value={query.runIds ?? []}
              allowCustomValue
              placeholder="Choose runs"
              onChange={(v) => update({ runIds: v.map((o) => o.value!).filter(Boolean) }, true)}
              onOpenMenu={loadRuns}
            />
          </InlineField>
          {queryType === QueryType.Outputs && (
            <LabelStudioExport
              datasource={datasource}
              runIds={query.runIds?.length ? query.runIds : query.runId ? [query.runId] : []}
            />
          )}
        </InlineFieldRow>
      )}

      {queryType === QueryType.Trend && (
        <InlineFieldRow>
          <InlineField label="Value" labelWidth={LABEL_WIDTH} tooltip="A summary value, such as ttft_p95">
            <Input
              id="bench-value"
              width={30}
              value={query.value ?? ''}
              placeholder="ttft_p95"
              onChange={text('value')}
              onBlur={onRunQuery}
            />
          </InlineField>
        </InlineFieldRow>
      )}

      {FILTER_TYPES.includes(queryType) && (
        <>
          <InlineFieldRow>
            <InlineField label="Name" labelWidth={LABEL_WIDTH} tooltip="Runs whose name contains this">
              <Input id="bench-name" width={30} value={query.name ?? ''} onChange={text('name')} onBlur={onRunQuery} />
            </InlineField>
            <InlineField label="Status">
              <Select
                inputId="bench-status"
                width={20}
                options={STATUS_OPTIONS}
                value={query.status || null}
                isClearable
                placeholder="Any"
                onChange={(v) => update({ status: v?.value ?? '' }, true)}
              />
            </InlineField>
          </InlineFieldRow>
          <InlineFieldRow>
            <InlineField label="Profile" labelWidth={LABEL_WIDTH}>
              <Input
                id="bench-profile"
                width={30}
                value={query.profile ?? ''}
                onChange={text('profile')}
                onBlur={onRunQuery}
              />
            </InlineField>
            <InlineField label="Model">
              <Input
                id="bench-model"
                width={30}
                value={query.model ?? ''}
                onChange={text('model')}
                onBlur={onRunQuery}
              />
            </InlineField>
            <InlineField label="Size" tooltip="Runs of this many requests, such as a matrix's size (100)">
              <Input
                id="bench-size"
                width={12}
                value={query.size ?? ''}
                placeholder="any"
                onChange={text('size')}
                onBlur={onRunQuery}
              />
            </InlineField>
          </InlineFieldRow>
          <InlineFieldRow>
            <InlineField label="Labels" labelWidth={LABEL_WIDTH} tooltip="key=value pairs that a run must all have">
              <TagsInput
                id="bench-labels"
                tags={query.labels ?? []}
                placeholder="key=value, then Enter"
                onChange={(labels) => update({ labels }, true)}
              />
            </InlineField>
          </InlineFieldRow>
        </>
      )}
    </div>
  );
}

interface RunFormProps {
  datasource: DataSource;
  profiles: Profile[];
  onStarted: (id: string) => void;
  onError: (msg: string) => void;
}

type LoadMode = 'profile' | 'custom';
type BoundMode = 'requests' | 'duration';

/** The "Run benchmark" form: it POSTs /runs and hands the new run's id to onStarted. */
export function RunForm({ datasource, profiles, onStarted, onError }: RunFormProps) {
  const [target, setTarget] = useState('');
  const [model, setModel] = useState('');
  const [name, setName] = useState('');
  const [loadMode, setLoadMode] = useState<LoadMode>('profile');
  const [profile, setProfile] = useState('');
  const [concurrency, setConcurrency] = useState('');
  const [rate, setRate] = useState('');
  const [boundMode, setBoundMode] = useState<BoundMode>('requests');
  const [requests, setRequests] = useState('100');
  const [duration, setDuration] = useState('');
  const [inputTokens, setInputTokens] = useState('');
  const [outputTokens, setOutputTokens] = useState('');
  const [labelsText, setLabelsText] = useState('');
  const [recordOutputs, setRecordOutputs] = useState(false);
  const [busy, setBusy] = useState(false);

  const parsedLabels = useMemo(() => parseLabels(labelsText), [labelsText]);

  const profileOptions = profiles.map((p) => ({ label: p.name, value: p.name, description: p.description }));
  const chosenProfile = profile || profiles[0]?.name || '';
  // A batch-api profile's run is one Batch API job of a fixed number of
  // requests: it has no duration bound.
  const batchMode = loadMode === 'profile' && profiles.find((p) => p.name === chosenProfile)?.mode === MODE_BATCH_API;
  const bound: BoundMode = batchMode ? 'requests' : boundMode;

  const spec = (): RunSpec => {
    const s: RunSpec = {};
    const put = <K extends keyof RunSpec>(k: K, v: RunSpec[K] | undefined) => {
      if (v !== undefined && v !== '' && !(typeof v === 'number' && isNaN(v))) {
        s[k] = v;
      }
    };
    put('target', target.trim());
    put('model', model.trim());
    put('name', name.trim());
    if (loadMode === 'profile') {
      put('profile', chosenProfile);
    } else {
      put('concurrency', concurrency.trim() ? Number(concurrency) : undefined);
      put('rate', rate.trim() ? Number(rate) : undefined);
    }
    if (bound === 'requests') {
      put('requests', requests.trim() ? Number(requests) : undefined);
    } else {
      put('duration', duration.trim());
    }
    put('inputTokens', inputTokens.trim());
    put('outputTokens', outputTokens.trim());
    if (Object.keys(parsedLabels.labels).length > 0) {
      s.labels = parsedLabels.labels;
    }
    if (recordOutputs) {
      s.recordOutputs = true;
    }
    return s;
  };

  const start = async () => {
    if (parsedLabels.error) {
      return;
    }
    setBusy(true);
    try {
      const res = await datasource.startRun(spec());
      onStarted(res.id);
    } catch (e) {
      onError(`Could not start the run: ${errorMessage(e)}`);
    } finally {
      setBusy(false);
    }
  };

  const input = (
    id: string,
    testId: string,
    value: string,
    set: (v: string) => void,
    placeholder: string,
    width = 30
  ) => (
    <Input
      id={id}
      data-testid={testId}
      width={width}
      value={value}
      placeholder={placeholder}
      onChange={(e) => set(e.currentTarget.value)}
    />
  );

  return (
    <div data-testid="bencher-run-form">
      <div data-testid="bench-run-form">
        <InlineFieldRow>
          <InlineField
            label="Target"
            labelWidth={LABEL_WIDTH}
            tooltip="OpenAI-compatible base URL; empty: the default target"
          >
            {input('bench-form-target', 'bencher-run-target', target, setTarget, 'http://vllm:8000/v1', 40)}
          </InlineField>
          <InlineField label="Model">
            {input('bench-form-model', 'bencher-run-model', model, setModel, 'served model name')}
          </InlineField>
        </InlineFieldRow>
        <InlineFieldRow>
          <InlineField label="Load" labelWidth={LABEL_WIDTH}>
            <div data-testid="bencher-run-load">
              <RadioButtonGroup<LoadMode>
                options={[
                  { label: 'Profile', value: 'profile' },
                  { label: 'Custom', value: 'custom' },
                ]}
                value={loadMode}
                onChange={setLoadMode}
              />
            </div>
          </InlineField>
          {loadMode === 'profile' ? (
            <>
              <InlineField label="Profile name">
                <Select
                  inputId="bench-form-profile"
                  data-testid="bencher-run-profile"
                  width={30}
                  options={profileOptions}
                  value={chosenProfile || null}
                  onChange={(v) => setProfile(v?.value ?? '')}
                />
              </InlineField>
              {batchMode && (
                <span data-testid="bencher-run-batch-note">
                  One Batch API job: makespan and throughput are measured; TTFT, ITL and TPOT do not exist (n/a).
                </span>
              )}
            </>
          ) : (
            <>
              <InlineField label="Concurrency">
                {input('bench-form-concurrency', 'bencher-run-concurrency', concurrency, setConcurrency, '10', 12)}
              </InlineField>
              <InlineField label="Rate (req/s)">
                {input('bench-form-rate', 'bencher-run-rate', rate, setRate, 'open loop', 12)}
              </InlineField>
            </>
          )}
        </InlineFieldRow>
        <InlineFieldRow>
          <InlineField label="Bound" labelWidth={LABEL_WIDTH}>
            <div data-testid="bencher-run-bound">
              <RadioButtonGroup<BoundMode>
                options={[
                  { label: 'Requests', value: 'requests' },
                  {
                    label: 'Duration',
                    value: 'duration',
                    description: batchMode ? 'A Batch API job holds a fixed number of requests' : undefined,
                  },
                ]}
                disabledOptions={batchMode ? ['duration'] : []}
                value={bound}
                onChange={setBoundMode}
              />
            </div>
          </InlineField>
          {bound === 'requests' ? (
            <InlineField label="Request count">
              {input('bench-form-requests', 'bencher-run-requests', requests, setRequests, '100', 12)}
            </InlineField>
          ) : (
            <InlineField label="Duration">
              {input('bench-form-duration', 'bencher-run-duration', duration, setDuration, '30s', 12)}
            </InlineField>
          )}
        </InlineFieldRow>
        <InlineFieldRow>
          <InlineField
            label="Input tokens"
            labelWidth={LABEL_WIDTH}
            tooltip='"512", "256:1024" (uniform) or "512~64" (normal)'
          >
            {input('bench-form-input', 'bencher-run-input-tokens', inputTokens, setInputTokens, '512', 16)}
          </InlineField>
          <InlineField label="Output tokens" tooltip='"128", "64:256" or "128~16"'>
            {input('bench-form-output', 'bencher-run-output-tokens', outputTokens, setOutputTokens, '128', 16)}
          </InlineField>
          <InlineField label="Run name">
            {input('bench-form-name', 'bencher-run-name', name, setName, 'optional', 24)}
          </InlineField>
        </InlineFieldRow>
        <InlineFieldRow>
          <InlineField
            label="Labels"
            labelWidth={LABEL_WIDTH}
            tooltip="key=value pairs, separated by commas, stored with the run (the Runs query filters by them)"
            invalid={Boolean(parsedLabels.error)}
            error={parsedLabels.error}
          >
            {input('bench-form-labels', 'bencher-run-labels', labelsText, setLabelsText, 'team=infra, gpu=h100', 40)}
          </InlineField>
          <InlineField
            label="Record outputs"
            tooltip="Keep the prompts and the generated texts in the run's document, for the Outputs query"
          >
            <InlineSwitch
              id="bench-form-record-outputs"
              data-testid="bencher-run-record-outputs"
              value={recordOutputs}
              onChange={(e) => setRecordOutputs(e.currentTarget.checked)}
            />
          </InlineField>
        </InlineFieldRow>
        <Button
          onClick={start}
          disabled={busy || Boolean(parsedLabels.error)}
          icon={busy ? 'spinner' : 'play'}
          data-testid="bencher-run-start"
        >
          Start run
        </Button>
      </div>
    </div>
  );
}
