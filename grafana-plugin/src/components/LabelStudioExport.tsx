import React, { useState } from 'react';
import { Alert, Button, InlineField, InlineFieldRow, InlineSwitch, Input, RadioButtonGroup } from '@grafana/ui';

import { DataSource, errorMessage } from '../datasource';
import { LabelStudioExportRequest, LabelStudioExportResponse } from '../types';

const LABEL_WIDTH = 16;

type Target = 'existing' | 'new';

const TARGET_OPTIONS: Array<{ label: string; value: Target; description: string }> = [
  { label: 'Existing project', value: 'existing', description: 'Import into a Label Studio project by its id' },
  { label: 'New project', value: 'new', description: 'Create a project with the shipped labeling configuration' },
];

interface Props {
  datasource: DataSource;
  /** The runs of the outputs view: one (rating tasks) or two (pairwise tasks). */
  runIds: string[];
}

/** What the export left out, in words ("" when nothing). */
export function leftOutText(r: LabelStudioExportResponse): string {
  const parts: string[] = [];
  if (r.leftOut.failed > 0) {
    parts.push(`${r.leftOut.failed} failed request(s) (include them with "Include failed")`);
  }
  if (r.leftOut.notSent > 0) {
    parts.push(`${r.leftOut.notSent} request(s) never sent`);
  }
  if (r.leftOut.unpaired > 0) {
    parts.push(`${r.leftOut.unpaired} request(s) answered in only one of the two runs`);
  }
  if (r.leftOut.promptsDiffer > 0) {
    parts.push(`${r.leftOut.promptsDiffer} request(s) whose prompts differ`);
  }
  return parts.length ? `Left out: ${parts.join(', ')}.` : '';
}

/**
 * LabelStudioExport is the outputs view's "Send to Label Studio" button and
 * its form: the runs shown go to an existing project or a new one, through
 * the backend's POST /export/labelstudio (Editors and Admins only; the Label
 * Studio URL and token are the data source's settings).
 */
export function LabelStudioExport({ datasource, runIds }: Props) {
  const [open, setOpen] = useState(false);
  const [target, setTarget] = useState<Target>('new');
  const [projectId, setProjectId] = useState('');
  const [title, setTitle] = useState('');
  const [includeFailed, setIncludeFailed] = useState(false);
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<LabelStudioExportResponse>();
  const [error, setError] = useState<string>();

  const kind = runIds.length === 2 ? 'pairwise' : 'rating';
  const runsError =
    runIds.length === 0
      ? 'Choose one run (a rating task per request) or two (a pairwise comparison) first.'
      : runIds.length > 2
        ? 'Label Studio takes the outputs of one run or two; choose at most two runs.'
        : undefined;
  const id = Number(projectId);
  const projectError =
    target === 'existing' && !(Number.isInteger(id) && id > 0)
      ? 'The project id is the number in the project\u2019s URL.'
      : target === 'new' && title.trim() === ''
        ? 'Give the new project a title.'
        : undefined;

  const send = async () => {
    const req: LabelStudioExportRequest = { runIds, includeFailed };
    if (target === 'existing') {
      req.projectId = id;
    } else {
      req.createProject = title.trim();
    }
    setBusy(true);
    setError(undefined);
    setResult(undefined);
    try {
      setResult(await datasource.exportToLabelStudio(req));
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <Button
        variant="secondary"
        icon={open ? 'angle-up' : 'upload'}
        onClick={() => setOpen(!open)}
        aria-expanded={open}
        data-testid="bencher-labelstudio-toggle"
      >
        Send to Label Studio
      </Button>
      {open && (
        <div data-testid="bencher-labelstudio-form" style={{ flexBasis: '100%' }}>
          <InlineFieldRow>
            <InlineField label="Project" labelWidth={LABEL_WIDTH} tooltip={`The runs shown become ${kind} tasks`}>
              <div data-testid="bencher-labelstudio-target">
                <RadioButtonGroup<Target> options={TARGET_OPTIONS} value={target} onChange={(v) => setTarget(v)} />
              </div>
            </InlineField>
            {target === 'existing' ? (
              <InlineField label="Project id" invalid={!!projectId && !!projectError}>
                <Input
                  id="bench-labelstudio-project"
                  data-testid="bencher-labelstudio-project"
                  width={12}
                  value={projectId}
                  placeholder="1"
                  onChange={(e) => setProjectId(e.currentTarget.value)}
                />
              </InlineField>
            ) : (
              <InlineField label="Title">
                <Input
                  id="bench-labelstudio-title"
                  data-testid="bencher-labelstudio-title"
                  width={40}
                  value={title}
                  placeholder={kind === 'pairwise' ? 'Run A vs run B' : 'Answers of run A'}
                  onChange={(e) => setTitle(e.currentTarget.value)}
                />
              </InlineField>
            )}
            <InlineField label="Include failed" tooltip="Also send failed requests (their partial output)">
              <InlineSwitch
                id="bench-labelstudio-include-failed"
                data-testid="bencher-labelstudio-include-failed"
                value={includeFailed}
                onChange={(e) => setIncludeFailed(e.currentTarget.checked)}
              />
            </InlineField>
            <Button
              onClick={send}
              disabled={busy || !!runsError || !!projectError}
              icon={busy ? 'fa fa-spinner' : 'upload'}
              data-testid="bencher-labelstudio-send"
            >
              Send {runIds.length === 2 ? 'pairs' : 'answers'}
            </Button>
          </InlineFieldRow>
          {(runsError || projectError) && <div data-testid="bencher-labelstudio-hint">{runsError ?? projectError}</div>}
          {error && (
            <Alert
              title="Label Studio"
              severity="error"
              onRemove={() => setError(undefined)}
              data-testid="bencher-labelstudio-result"
            >
              {error}
            </Alert>
          )}
          {result && (
            <Alert
              title="Sent to Label Studio"
              severity="success"
              onRemove={() => setResult(undefined)}
              data-testid="bencher-labelstudio-result"
              data-project-id={result.projectId}
            >
              {result.tasks} {result.kind} task(s) {result.created ? 'in the new' : 'in'} project {result.projectId}:{' '}
              <a href={result.projectUrl} target="_blank" rel="noreferrer" data-testid="bencher-labelstudio-link">
                {result.projectUrl}
              </a>
              . {leftOutText(result)}
            </Alert>
          )}
        </div>
      )}
    </>
  );
}
