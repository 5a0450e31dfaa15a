import React from 'react';
import { fireEvent, render, screen } from '@testing-library/react';
import { DataSourceSettings } from '@grafana/data';

import { ConfigEditor } from './ConfigEditor';
import { BenchOptions, BenchSecureJsonData } from '../types';

function options(
  jsonData: BenchOptions = {},
  secureJsonFields: Record<string, boolean> = {},
  readOnly = false
): DataSourceSettings<BenchOptions, BenchSecureJsonData> {
  return {
    id: 1,
    uid: 'bench-uid',
    orgId: 1,
    name: 'Bencher',
    type: 'benchstation-bencher-datasource',
    typeName: 'Benchstation bencher',
    typeLogoUrl: '',
    access: 'proxy',
    url: '',
    user: '',
    database: '',
    basicAuth: false,
    basicAuthUser: '',
    isDefault: false,
    jsonData,
    secureJsonFields,
    secureJsonData: {},
    readOnly,
    withCredentials: false,
  };
}

function setup(opts = options()) {
  const onOptionsChange = jest.fn();
  render(<ConfigEditor options={opts} onOptionsChange={onOptionsChange} />);
  return onOptionsChange;
}

describe('ConfigEditor', () => {
  it('shows the settings', () => {
    setup(
      options({
        defaultTarget: 'http://vllm:8000/v1',
        allowedHosts: ['vllm:8000', 'sim'],
        resultsDir: '/data/results',
        prometheusUrl: 'http://prometheus:9090',
        maxConcurrentRuns: 3,
      })
    );
    expect(screen.getByLabelText('Default target')).toHaveValue('http://vllm:8000/v1');
    expect(screen.getByLabelText(/Results directory/)).toHaveValue('/data/results');
    expect(screen.getByLabelText('Prometheus URL')).toHaveValue('http://prometheus:9090');
    expect(screen.getByLabelText('Max concurrent runs')).toHaveValue(3);
    expect(screen.getByText('vllm:8000')).toBeInTheDocument();
    expect(screen.getByText('sim')).toBeInTheDocument();
  });

  it('updates the text fields of jsonData', () => {
    const base = options({ resultsDir: '/old' });
    const onOptionsChange = setup(base);
    fireEvent.change(screen.getByLabelText('Default target'), { target: { value: 'http://vllm:8000/v1' } });
    expect(onOptionsChange).toHaveBeenLastCalledWith(
      expect.objectContaining({ jsonData: { resultsDir: '/old', defaultTarget: 'http://vllm:8000/v1' } })
    );
    fireEvent.change(screen.getByLabelText(/Results directory/), { target: { value: '/data/results' } });
    expect(onOptionsChange).toHaveBeenLastCalledWith(
      expect.objectContaining({ jsonData: { resultsDir: '/data/results' } })
    );
    fireEvent.change(screen.getByLabelText('Prometheus URL'), { target: { value: 'http://prometheus:9090' } });
    expect(onOptionsChange).toHaveBeenLastCalledWith(
      expect.objectContaining({ jsonData: { resultsDir: '/old', prometheusUrl: 'http://prometheus:9090' } })
    );
  });

  it('stores maxConcurrentRuns as a number, and drops it when emptied', () => {
    const onOptionsChange = setup(options({ resultsDir: '/r', maxConcurrentRuns: 2 }));
    fireEvent.change(screen.getByLabelText('Max concurrent runs'), { target: { value: '4' } });
    expect(onOptionsChange).toHaveBeenLastCalledWith(
      expect.objectContaining({ jsonData: { resultsDir: '/r', maxConcurrentRuns: 4 } })
    );
    fireEvent.change(screen.getByLabelText('Max concurrent runs'), { target: { value: '' } });
    expect(onOptionsChange).toHaveBeenLastCalledWith(expect.objectContaining({ jsonData: { resultsDir: '/r' } }));
  });

  it('adds an allowed host', () => {
    const onOptionsChange = setup(options({ allowedHosts: ['sim'] }));
    const input = screen.getByPlaceholderText('vllm:8000, then Enter');
    fireEvent.change(input, { target: { value: 'vllm:8000' } });
    fireEvent.keyDown(input, { key: 'Enter' });
    expect(onOptionsChange).toHaveBeenLastCalledWith(
      expect.objectContaining({ jsonData: { allowedHosts: ['sim', 'vllm:8000'] } })
    );
  });

  it('puts the API key in secureJsonData only', () => {
    const onOptionsChange = setup();
    fireEvent.change(screen.getByLabelText('API key'), { target: { value: 'sk-123' } });
    const got = onOptionsChange.mock.calls[0][0];
    expect(got.secureJsonData).toEqual({ apiKey: 'sk-123' });
    expect(got.jsonData).toEqual({});
  });

  it('resets a configured API key', () => {
    const onOptionsChange = setup(options({ resultsDir: '/r' }, { apiKey: true }));
    expect(screen.getByDisplayValue('configured')).toBeInTheDocument();
    fireEvent.click(screen.getByRole('button', { name: 'Reset' }));
    expect(onOptionsChange).toHaveBeenCalledWith(
      expect.objectContaining({
        secureJsonFields: { apiKey: false },
        secureJsonData: { apiKey: '' },
        jsonData: { resultsDir: '/r' },
      })
    );
  });

  it('edits the Label Studio URL in jsonData and its token in secureJsonData only', () => {
    const onOptionsChange = setup(options({ resultsDir: '/r', labelStudioUrl: 'http://old:8080' }));
    expect(screen.getByTestId('bencher-config-label-studio-url')).toHaveValue('http://old:8080');
    fireEvent.change(screen.getByLabelText('Label Studio URL'), { target: { value: 'http://label-studio:8080' } });
    expect(onOptionsChange).toHaveBeenLastCalledWith(
      expect.objectContaining({ jsonData: { resultsDir: '/r', labelStudioUrl: 'http://label-studio:8080' } })
    );
    fireEvent.change(screen.getByLabelText('Label Studio token'), { target: { value: 'ls-token-123' } });
    const got = onOptionsChange.mock.calls[onOptionsChange.mock.calls.length - 1][0];
    expect(got.secureJsonData).toEqual({ labelStudioToken: 'ls-token-123' });
    expect(JSON.stringify(got.jsonData)).not.toContain('ls-token-123');
  });

  it('resets a configured Label Studio token', () => {
    const onOptionsChange = setup(options({ resultsDir: '/r' }, { labelStudioToken: true }));
    fireEvent.click(screen.getByRole('button', { name: 'Reset' }));
    expect(onOptionsChange).toHaveBeenCalledWith(
      expect.objectContaining({
        secureJsonFields: { labelStudioToken: false },
        secureJsonData: { labelStudioToken: '' },
      })
    );
  });

  it('is read-only for a provisioned data source', () => {
    const onOptionsChange = setup(
      options(
        { defaultTarget: 'http://vllm:8000/v1', allowedHosts: ['sim'], resultsDir: '/r', maxConcurrentRuns: 2 },
        { apiKey: true },
        true
      )
    );
    // Grafana's page says "Provisioned data source" above the editor; the editor does not repeat it
    expect(screen.queryByText('Provisioned data source')).not.toBeInTheDocument();
    for (const label of ['Default target', 'Prometheus URL', 'Max concurrent runs', 'API key']) {
      expect(screen.getByLabelText(label)).toBeDisabled();
    }
    expect(screen.getByLabelText(/Results directory/)).toBeDisabled();
    expect(screen.getByPlaceholderText('vllm:8000, then Enter')).toBeDisabled();
    // every input and button of the editor is disabled; no Reset of the API key
    for (const el of [...screen.getAllByRole('textbox'), ...screen.getAllByRole('button')]) {
      expect(el).toBeDisabled();
    }
    expect(screen.queryByRole('button', { name: 'Reset' })).not.toBeInTheDocument();
    expect(screen.getByDisplayValue('configured')).toBeInTheDocument();
    // a change that still reaches a handler is not passed on
    fireEvent.change(screen.getByLabelText('Default target'), { target: { value: 'http://other/v1' } });
    expect(onOptionsChange).not.toHaveBeenCalled();
  });

  it('is editable for a data source made in the UI', () => {
    setup(options({ resultsDir: '/r' }));
    for (const el of [...screen.getAllByRole('textbox'), screen.getByLabelText('Max concurrent runs')]) {
      expect(el).toBeEnabled();
    }
  });
});
