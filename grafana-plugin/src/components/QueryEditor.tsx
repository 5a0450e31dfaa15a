import React, { ChangeEvent, useCallback, useEffect, useMemo, useState } from 'react';
import { QueryEditorProps, SelectableValue } from '@grafana/data';
import {
  Alert,
  Button,
  InlineField,
  InlineFieldRow,
  Input,
  MultiSelect,
  RadioButtonGroup,
  Select,
  TagsInput,
} from '@grafana/ui';

import { DataSource, errorMessage } from '../datasource';
import {
  BenchOptions,
  BenchQuery,
  KIND_OPTIONS,
  METRIC_OPTIONS,
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

  const loadRuns = useCallback(async () => {
    try {
      setRuns(await datasource.listRuns());
    } catch (e) {
      setError(`Could not list the runs: ${errorMessage(e)}`);
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

  const runOptions: Array<SelectableValue<string>> = useMemo(
    () => runs.map((r) => ({ label: runLabel(r), value: r.id, description: r.header?.environment?.model })),
    [runs]
  );

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
    onChange({ ...query, queryType: QueryType.Live, runId: id });
    onRunQuery();
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
            <RadioButtonGroup<string>
              options={QUERY_TYPE_OPTIONS}
              value={queryType}
              onChange={(v) => update({ queryType: v }, true)}
            />
          </InlineField>
          <Button
            variant="secondary"
            icon={showForm ? 'angle-up' : 'play'}
            onClick={() => setShowForm(!showForm)}
            aria-expanded={showForm}
          >
            Run benchmark
          </Button>
        </InlineFieldRow>
      )}

      {showForm && (
        <RunForm datasource={datasource} profiles={profiles} onStarted={onStarted} onError={(msg) => setError(msg)} />
      )}

      {ONE_RUN_TYPES.includes(queryType) && (
        <InlineFieldRow>
          <InlineField label="Run" labelWidth={LABEL_WIDTH} tooltip="The run to show (GET /runs)">
            <Select
              inputId="bench-run-id"
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
  const [busy, setBusy] = useState(false);

  const profileOptions = profiles.map((p) => ({ label: p.name, value: p.name, description: p.description }));
  const chosenProfile = profile || profiles[0]?.name || '';

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
    if (boundMode === 'requests') {
      put('requests', requests.trim() ? Number(requests) : undefined);
    } else {
      put('duration', duration.trim());
    }
    put('inputTokens', inputTokens.trim());
    put('outputTokens', outputTokens.trim());
    return s;
  };

  const start = async () => {
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

  const input = (id: string, value: string, set: (v: string) => void, placeholder: string, width = 30) => (
    <Input id={id} width={width} value={value} placeholder={placeholder} onChange={(e) => set(e.currentTarget.value)} />
  );

  return (
    <div data-testid="bench-run-form">
      <InlineFieldRow>
        <InlineField
          label="Target"
          labelWidth={LABEL_WIDTH}
          tooltip="OpenAI-compatible base URL; empty: the default target"
        >
          {input('bench-form-target', target, setTarget, 'http://vllm:8000/v1', 40)}
        </InlineField>
        <InlineField label="Model">{input('bench-form-model', model, setModel, 'served model name')}</InlineField>
      </InlineFieldRow>
      <InlineFieldRow>
        <InlineField label="Load" labelWidth={LABEL_WIDTH}>
          <RadioButtonGroup<LoadMode>
            options={[
              { label: 'Profile', value: 'profile' },
              { label: 'Custom', value: 'custom' },
            ]}
            value={loadMode}
            onChange={setLoadMode}
          />
        </InlineField>
        {loadMode === 'profile' ? (
          <InlineField label="Profile name">
            <Select
              inputId="bench-form-profile"
              width={30}
              options={profileOptions}
              value={chosenProfile || null}
              onChange={(v) => setProfile(v?.value ?? '')}
            />
          </InlineField>
        ) : (
          <>
            <InlineField label="Concurrency">
              {input('bench-form-concurrency', concurrency, setConcurrency, '10', 12)}
            </InlineField>
            <InlineField label="Rate (req/s)">{input('bench-form-rate', rate, setRate, 'open loop', 12)}</InlineField>
          </>
        )}
      </InlineFieldRow>
      <InlineFieldRow>
        <InlineField label="Bound" labelWidth={LABEL_WIDTH}>
          <RadioButtonGroup<BoundMode>
            options={[
              { label: 'Requests', value: 'requests' },
              { label: 'Duration', value: 'duration' },
            ]}
            value={boundMode}
            onChange={setBoundMode}
          />
        </InlineField>
        {boundMode === 'requests' ? (
          <InlineField label="Request count">
            {input('bench-form-requests', requests, setRequests, '100', 12)}
          </InlineField>
        ) : (
          <InlineField label="Duration">{input('bench-form-duration', duration, setDuration, '30s', 12)}</InlineField>
        )}
      </InlineFieldRow>
      <InlineFieldRow>
        <InlineField
          label="Input tokens"
          labelWidth={LABEL_WIDTH}
          tooltip='"512", "256:1024" (uniform) or "512~64" (normal)'
        >
          {input('bench-form-input', inputTokens, setInputTokens, '512', 16)}
        </InlineField>
        <InlineField label="Output tokens" tooltip='"128", "64:256" or "128~16"'>
          {input('bench-form-output', outputTokens, setOutputTokens, '128', 16)}
        </InlineField>
        <InlineField label="Run name">{input('bench-form-name', name, setName, 'optional', 24)}</InlineField>
      </InlineFieldRow>
      <Button onClick={start} disabled={busy} icon={busy ? 'spinner' : 'play'}>
        Start run
      </Button>
    </div>
  );
}
