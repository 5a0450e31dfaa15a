import React from 'react';
import { fireEvent, render, screen, waitFor } from '@testing-library/react';

import { QueryEditor } from './QueryEditor';
import { LabelStudioExport, leftOutText } from './LabelStudioExport';
import { BenchQuery, LabelStudioExportResponse, QueryType } from '../types';
import { makeDataSource } from '../test/fixtures';

const answer: LabelStudioExportResponse = {
  kind: 'pairwise',
  tasks: 19,
  batches: 1,
  projectId: 3,
  projectUrl: 'http://label-studio:8080/projects/3/data',
  created: true,
  leftOut: { failed: 0, notSent: 0, unpaired: 1, promptsDiffer: 0 },
};

function setup(runIds: string[]) {
  const { ds, postResource } = makeDataSource();
  render(<LabelStudioExport datasource={ds} runIds={runIds} />);
  return { ds, postResource };
}

describe('LabelStudioExport', () => {
  it('is a button next to the outputs view, and only there', async () => {
    const { ds } = makeDataSource();
    const q: BenchQuery = { refId: 'A', queryType: QueryType.Outputs, runIds: ['run-a'] };
    const { rerender } = render(<QueryEditor datasource={ds} query={q} onChange={jest.fn()} onRunQuery={jest.fn()} />);
    expect(screen.getByTestId('bencher-labelstudio-toggle')).toHaveTextContent('Send to Label Studio');
    rerender(
      <QueryEditor
        datasource={ds}
        query={{ ...q, queryType: QueryType.Compare }}
        onChange={jest.fn()}
        onRunQuery={jest.fn()}
      />
    );
    expect(screen.queryByTestId('bencher-labelstudio-toggle')).not.toBeInTheDocument();
    await waitFor(() => expect(screen.getByTestId('bench-query-editor')).toBeInTheDocument());
  });

  it('creates a project for the two runs shown and links to it', async () => {
    const { postResource } = setup(['run-a', 'run-b']);
    postResource.mockResolvedValue(answer);
    fireEvent.click(screen.getByTestId('bencher-labelstudio-toggle'));
    expect(screen.getByTestId('bencher-labelstudio-send')).toBeDisabled();
    expect(screen.getByTestId('bencher-labelstudio-hint')).toHaveTextContent('Give the new project a title.');
    fireEvent.change(screen.getByTestId('bencher-labelstudio-title'), { target: { value: 'A vs B' } });
    fireEvent.click(screen.getByTestId('bencher-labelstudio-send'));
    expect(postResource).toHaveBeenCalledWith('export/labelstudio', {
      runIds: ['run-a', 'run-b'],
      createProject: 'A vs B',
      includeFailed: false,
    });
    const result = await screen.findByTestId('bencher-labelstudio-result');
    expect(result).toHaveAttribute('data-project-id', '3');
    expect(result).toHaveTextContent('19 pairwise task(s) in the new project 3');
    expect(result).toHaveTextContent('1 request(s) answered in only one of the two runs');
    expect(screen.getByTestId('bencher-labelstudio-link')).toHaveAttribute('href', answer.projectUrl);
  });

  it('imports one run into an existing project, failed requests included', async () => {
    const { postResource } = setup(['run-a']);
    postResource.mockResolvedValue({ ...answer, kind: 'rating', created: false, projectId: 7, tasks: 20 });
    fireEvent.click(screen.getByTestId('bencher-labelstudio-toggle'));
    fireEvent.click(screen.getByRole('radio', { name: 'Existing project' }));
    fireEvent.change(screen.getByTestId('bencher-labelstudio-project'), { target: { value: 'x' } });
    expect(screen.getByTestId('bencher-labelstudio-send')).toBeDisabled();
    fireEvent.change(screen.getByTestId('bencher-labelstudio-project'), { target: { value: '7' } });
    fireEvent.click(screen.getByTestId('bencher-labelstudio-include-failed'));
    fireEvent.click(screen.getByTestId('bencher-labelstudio-send'));
    expect(postResource).toHaveBeenCalledWith('export/labelstudio', {
      runIds: ['run-a'],
      projectId: 7,
      includeFailed: true,
    });
    expect(await screen.findByTestId('bencher-labelstudio-result')).toHaveTextContent('20 rating task(s) in project 7');
  });

  it("shows the backend's refusal", async () => {
    const { postResource } = setup(['run-a']);
    postResource.mockRejectedValue({
      status: 403,
      data: { error: 'only users with the Editor or Admin role may send runs to Label Studio' },
    });
    fireEvent.click(screen.getByTestId('bencher-labelstudio-toggle'));
    fireEvent.change(screen.getByTestId('bencher-labelstudio-title'), { target: { value: 'answers' } });
    fireEvent.click(screen.getByTestId('bencher-labelstudio-send'));
    expect(await screen.findByTestId('bencher-labelstudio-result')).toHaveTextContent(
      'only users with the Editor or Admin role may send runs to Label Studio'
    );
  });

  it('needs one or two runs', () => {
    const { postResource } = setup([]);
    fireEvent.click(screen.getByTestId('bencher-labelstudio-toggle'));
    fireEvent.change(screen.getByTestId('bencher-labelstudio-title'), { target: { value: 'answers' } });
    expect(screen.getByTestId('bencher-labelstudio-send')).toBeDisabled();
    expect(screen.getByTestId('bencher-labelstudio-hint')).toHaveTextContent('Choose one run');
    expect(postResource).not.toHaveBeenCalled();
  });

  it('says what was left out', () => {
    expect(leftOutText({ ...answer, leftOut: { failed: 0, notSent: 0, unpaired: 0, promptsDiffer: 0 } })).toBe('');
    expect(leftOutText({ ...answer, leftOut: { failed: 2, notSent: 1, unpaired: 0, promptsDiffer: 0 } })).toBe(
      'Left out: 2 failed request(s) (include them with "Include failed"), 1 request(s) never sent.'
    );
  });
});
