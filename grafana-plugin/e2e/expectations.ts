// What each panel of the provisioned dashboards must show in the browser
// tests. Every panel must draw without an error; the lists below are the
// documented exceptions, each with its reason.

/** What a panel must show once its queries have answered. */
export interface Expectation {
  /** canvas: a uPlot chart; table: rows; value: a stat's value; text: text. */
  shows: 'canvas' | 'table' | 'value' | 'text';
  /** The panel has data only after an event, so "No data" is right. */
  eventOnly: boolean;
}

/**
 * Panels whose series exist only after an event (an XID error, a GPU
 * throttling): on a healthy or simulated host they show their own noValue
 * text. The Go test passes dashboards.EventOnly, keyed by dashboard uid.
 */
const eventOnly: Record<string, string[]> = JSON.parse(process.env.E2E_EVENT_ONLY ?? '{}');

/**
 * Problems accepted, each with its reason, as the exact problem line.
 * Loki cannot run here, and the Grafana of ../shared/tools/grafana is
 * built without Loki's frontend module (core:plugin/loki answers 404), so
 * no logs panel can draw in it.
 */
const accepted: Record<string, string[]> = {
  'benchstation-gpu-vllm': ['vLLM and exporter logs: error state (Datasource: benchstation-loki was not found)'],
};

/** The expectation of a panel of dashboard uid, by its type and title. */
export function expectations(uid: string, type: string, title: string): Expectation {
  const shows: Expectation['shows'] =
    type === 'table' ? 'table' : type === 'stat' || type === 'gauge' ? 'value' : type === 'text' || type === 'logs' ? 'text' : 'canvas';
  return { shows, eventOnly: (eventOnly[uid] ?? []).includes(title) };
}

/** Whether a problem line ("Title: …") of dashboard uid is accepted. */
export function exempt(uid: string, problem: string): boolean {
  return (accepted[uid] ?? []).includes(problem);
}
