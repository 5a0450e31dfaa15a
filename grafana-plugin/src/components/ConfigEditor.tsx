import React, { ChangeEvent } from 'react';
import { DataSourcePluginOptionsEditorProps } from '@grafana/data';
import { InlineField, Input, SecretInput, TagsInput } from '@grafana/ui';

import { BenchOptions, BenchSecureJsonData } from '../types';

type Props = DataSourcePluginOptionsEditorProps<BenchOptions, BenchSecureJsonData>;

const LABEL_WIDTH = 22;

/** The settings of the data source (settings.go's JSONData) and its secure API key. */
export function ConfigEditor({ options, onOptionsChange: change }: Props) {
  const jsonData = options.jsonData ?? {};
  const { secureJsonFields, secureJsonData } = options;
  // A provisioned data source (readOnly) is changed in its provisioning file,
  // not here: every input is disabled and no change is passed on. Grafana's
  // settings page itself shows the "Provisioned data source" notice above
  // this editor (DataSourceReadOnlyMessage), so the editor does not repeat it.
  const readOnly = Boolean(options.readOnly);
  const onOptionsChange: Props['onOptionsChange'] = (o) => {
    if (!readOnly) {
      change(o);
    }
  };

  const setJSON = (patch: Partial<BenchOptions>) =>
    onOptionsChange({ ...options, jsonData: { ...jsonData, ...patch } });
  const text =
    (field: 'defaultTarget' | 'resultsDir' | 'prometheusUrl' | 'labelStudioUrl') =>
    (e: ChangeEvent<HTMLInputElement>) =>
      setJSON({ [field]: e.currentTarget.value });

  const onMaxRunsChange = (e: ChangeEvent<HTMLInputElement>) => {
    const raw = e.currentTarget.value.trim();
    const next = { ...jsonData };
    if (raw === '') {
      // Absent means the backend's default (1).
      delete next.maxConcurrentRuns;
    } else {
      next.maxConcurrentRuns = parseInt(raw, 10);
    }
    onOptionsChange({ ...options, jsonData: next });
  };

  const onAPIKeyChange = (e: ChangeEvent<HTMLInputElement>) =>
    onOptionsChange({ ...options, secureJsonData: { ...secureJsonData, apiKey: e.currentTarget.value } });

  const onResetAPIKey = () =>
    onOptionsChange({
      ...options,
      secureJsonFields: { ...secureJsonFields, apiKey: false },
      secureJsonData: { ...secureJsonData, apiKey: '' },
    });

  const onLabelStudioTokenChange = (e: ChangeEvent<HTMLInputElement>) =>
    onOptionsChange({ ...options, secureJsonData: { ...secureJsonData, labelStudioToken: e.currentTarget.value } });

  const onResetLabelStudioToken = () =>
    onOptionsChange({
      ...options,
      secureJsonFields: { ...secureJsonFields, labelStudioToken: false },
      secureJsonData: { ...secureJsonData, labelStudioToken: '' },
    });

  // InlineField passes its disabled to its input (and overrides the input's own).
  return (
    <>
      <InlineField
        label="Default target"
        labelWidth={LABEL_WIDTH}
        disabled={readOnly}
        tooltip="OpenAI-compatible base URL that runs go to when they name none; empty: the built-in simulator"
      >
        <Input
          id="config-default-target"
          width={50}
          value={jsonData.defaultTarget ?? ''}
          placeholder="http://vllm:8000/v1"
          onChange={text('defaultTarget')}
        />
      </InlineField>
      <InlineField
        label="Allowed hosts"
        labelWidth={LABEL_WIDTH}
        disabled={readOnly}
        tooltip="Hosts (host or host:port) that runs may target; empty: only the default target's host"
      >
        <TagsInput
          id="config-allowed-hosts"
          width={50}
          tags={jsonData.allowedHosts ?? []}
          placeholder="vllm:8000, then Enter"
          onChange={(allowedHosts) => setJSON({ allowedHosts })}
        />
      </InlineField>
      <InlineField
        label="Results directory"
        labelWidth={LABEL_WIDTH}
        disabled={readOnly}
        required
        tooltip="Absolute path of the directory that holds the run documents"
      >
        <Input
          id="config-results-dir"
          width={50}
          value={jsonData.resultsDir ?? ''}
          placeholder="/var/lib/grafana/benchstation/results"
          onChange={text('resultsDir')}
        />
      </InlineField>
      <InlineField
        label="Prometheus URL"
        labelWidth={LABEL_WIDTH}
        disabled={readOnly}
        tooltip="Prometheus that saw the target's metrics during runs; empty: none"
      >
        <Input
          id="config-prometheus-url"
          width={50}
          value={jsonData.prometheusUrl ?? ''}
          placeholder="http://prometheus:9090"
          onChange={text('prometheusUrl')}
        />
      </InlineField>
      <InlineField label="Max concurrent runs" labelWidth={LABEL_WIDTH} disabled={readOnly} tooltip="1 to 16; empty: 1">
        <Input
          id="config-max-runs"
          type="number"
          min={1}
          max={16}
          width={12}
          value={jsonData.maxConcurrentRuns ?? ''}
          placeholder="1"
          onChange={onMaxRunsChange}
        />
      </InlineField>
      <InlineField
        label="API key"
        labelWidth={LABEL_WIDTH}
        disabled={readOnly}
        tooltip="Sent to the target as a bearer token; stored encrypted"
      >
        {readOnly ? (
          // SecretInput's Reset button has no disabled state.
          <Input
            id="config-api-key"
            width={50}
            value={secureJsonFields?.apiKey ? 'configured' : ''}
            placeholder="not set"
          />
        ) : (
          <SecretInput
            id="config-api-key"
            width={50}
            isConfigured={Boolean(secureJsonFields?.apiKey)}
            value={secureJsonData?.apiKey ?? ''}
            placeholder="API key of the target (optional)"
            onReset={onResetAPIKey}
            onChange={onAPIKeyChange}
          />
        )}
      </InlineField>
      <InlineField
        label="Label Studio URL"
        labelWidth={LABEL_WIDTH}
        disabled={readOnly}
        tooltip="Where the outputs view's Send to Label Studio goes; its host must be one of the allowed hosts; empty: none"
      >
        <Input
          id="config-label-studio-url"
          data-testid="bencher-config-label-studio-url"
          width={50}
          value={jsonData.labelStudioUrl ?? ''}
          placeholder="http://label-studio:8080"
          onChange={text('labelStudioUrl')}
        />
      </InlineField>
      <InlineField
        label="Label Studio token"
        labelWidth={LABEL_WIDTH}
        disabled={readOnly}
        tooltip="Label Studio's access token (Account & Settings), sent to the Label Studio URL only; stored encrypted"
      >
        {readOnly ? (
          <Input
            id="config-label-studio-token"
            width={50}
            value={secureJsonFields?.labelStudioToken ? 'configured' : ''}
            placeholder="not set"
          />
        ) : (
          <SecretInput
            id="config-label-studio-token"
            data-testid="bencher-config-label-studio-token"
            width={50}
            isConfigured={Boolean(secureJsonFields?.labelStudioToken)}
            value={secureJsonData?.labelStudioToken ?? ''}
            placeholder="Label Studio token (optional)"
            onReset={onResetLabelStudioToken}
            onChange={onLabelStudioTokenChange}
          />
        )}
      </InlineField>
    </>
  );
}
