package dashboards

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
)

// File is one generated dashboard and the file it is committed as.
type File struct {
	// Name is the file name in the dashboards directory.
	Name string
	// Dashboard is the built dashboard.
	Dashboard dashboard.Dashboard
}

// All builds every dashboard, with panel ids numbered in order.
func All() ([]File, error) {
	builders := []struct {
		name string
		b    *dashboard.DashboardBuilder
	}{
		{"gpu-vllm.json", GPUvLLM()},
		{"benchmarks.json", Benchmarks()},
		{"batch-jobs.json", BatchJobs()},
	}
	out := make([]File, 0, len(builders))
	for _, b := range builders {
		d, err := b.b.Build()
		if err != nil {
			return nil, fmt.Errorf("building %s: %w", b.name, err)
		}
		numberPanels(&d)
		setPluginVersion(&d)
		out = append(out, File{Name: b.name, Dashboard: d})
	}
	return out, nil
}

// numberPanels gives rows and panels ids 1, 2, … in their order, so the
// JSON is the same on every run and panel links stay valid.
func numberPanels(d *dashboard.Dashboard) {
	id := uint32(0)
	for _, p := range d.Panels {
		id++
		switch {
		case p.Panel != nil:
			p.Panel.Id = ptr(id)
		case p.RowPanel != nil:
			p.RowPanel.Id = id
		}
	}
}

// GrafanaVersion is the Grafana the dashboards are written for; every
// panel says so in pluginVersion.
const GrafanaVersion = "12.4.0"

// setPluginVersion sets pluginVersion on every panel: without it Grafana
// migrates the options as if saved by an old version (the xy chart's
// manual series lose their matchers and the panel shows "Err").
func setPluginVersion(d *dashboard.Dashboard) {
	for _, p := range d.Panels {
		switch {
		case p.Panel != nil:
			p.Panel.PluginVersion = ptr(GrafanaVersion)
		case p.RowPanel != nil:
			for i := range p.RowPanel.Panels {
				p.RowPanel.Panels[i].PluginVersion = ptr(GrafanaVersion)
			}
		}
	}
}

// Marshal returns the dashboard's JSON as committed: indented, with a
// final newline.
func Marshal(d dashboard.Dashboard) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(d); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Write writes every dashboard into dir (the -update of the drift test).
func Write(dir string) error {
	files, err := All()
	if err != nil {
		return err
	}
	for _, f := range files {
		raw, err := Marshal(f.Dashboard)
		if err != nil {
			return fmt.Errorf("%s: %w", f.Name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, f.Name), raw, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Query is one PromQL expression of a dashboard.
type Query struct {
	// Where names the dashboard and the panel (or variable) and refId.
	Where string
	// Expr is the PromQL, with Grafana's variables in it.
	Expr string
	// Legend is the target's legend format ("{{instance}} GPU {{gpu}}").
	Legend string
	// Variable marks a template variable's label_values() query, whose
	// Expr is the series selector inside it.
	Variable bool
}

// PromQL lists the Prometheus expressions of a dashboard: panel targets
// and label_values() variables.
func PromQL(d dashboard.Dashboard) []Query {
	title := deref(d.Title)
	var out []Query
	for _, p := range d.Panels {
		if p.Panel == nil {
			continue
		}
		for _, t := range p.Panel.Targets {
			q, ok := t.(prometheus.Dataquery)
			if !ok {
				continue
			}
			out = append(out, Query{
				Where:  fmt.Sprintf("%s / %s / %s", title, deref(p.Panel.Title), deref(q.RefId)),
				Expr:   q.Expr,
				Legend: deref(q.LegendFormat),
			})
		}
	}
	for _, v := range d.Templating.List {
		if v.Type != dashboard.VariableTypeQuery || v.Query == nil || v.Query.String == nil {
			continue
		}
		sel, ok := labelValuesSelector(*v.Query.String)
		if !ok {
			continue
		}
		out = append(out, Query{Where: fmt.Sprintf("%s / variable %s", title, v.Name), Expr: sel, Variable: true})
	}
	return out
}

// labelValuesSelector returns the series selector of label_values(sel, label).
func labelValuesSelector(q string) (string, bool) {
	const prefix = "label_values("
	if len(q) < len(prefix)+1 || q[:len(prefix)] != prefix || q[len(q)-1] != ')' {
		return "", false
	}
	inner := q[len(prefix) : len(q)-1]
	depth := 0
	for i := len(inner) - 1; i >= 0; i-- { // the label is after the last top-level comma
		switch inner[i] {
		case '}', ')':
			depth++
		case '{', '(':
			depth--
		case ',':
			if depth == 0 {
				return inner[:i], true
			}
		}
	}
	return "", false
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
