package stacktest

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/benchstation/benchstation/dashboards"
	"github.com/benchstation/benchstation/internal/promcheck"
	"github.com/benchstation/benchstation/provisioning"
)

// Expr is one PromQL expression of a dashboard panel or an alert rule, with
// Grafana's variables already replaced, ready for Prometheus's query API.
type Expr struct {
	// Where names the dashboard and panel, or the alert rule.
	Where string
	// Query is the PromQL text.
	Query string
	// Legend is a dashboard target's legend format.
	Legend string
	// EventOnly marks expressions that return data only after an event
	// (an XID error, an aborted request); the end-to-end test does not
	// require data from them.
	EventOnly bool
}

// eventOnlyPanels are the "dashboard / panel /" prefixes of the panels
// whose queries return data only after an event (dashboards.EventOnly: an
// XID error, a throttled GPU).
func eventOnlyPanels(files []dashboards.File) []string {
	var out []string
	for _, f := range files {
		for _, title := range dashboards.EventOnly[f.Name] {
			out = append(out, exprsDeref(f.Dashboard.Title)+" / "+title+" /")
		}
	}
	return out
}

func exprsDeref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// rangeForTest replaces Grafana's range variables ($__rate_interval,
// $__range): one minute holds many of the test's one-second scrapes.
const rangeForTest = "1m"

// stackExprs lists every PromQL expression of the dashboards and alert
// rules, each variable replaced by "All" and each range by rangeForTest.
func stackExprs(t *testing.T) []Expr {
	t.Helper()
	files, err := dashboards.All()
	require.NoError(t, err)
	var out []Expr
	events := eventOnlyPanels(files)
	require.Len(t, events, 2, "XID errors and Throttle reasons")
	for _, f := range files {
		for _, q := range dashboards.PromQL(f.Dashboard) {
			event := false
			for _, p := range events {
				event = event || strings.HasPrefix(q.Where, p)
			}
			out = append(out, Expr{Where: q.Where, Query: promcheck.Substitute(q.Expr, rangeForTest), Legend: q.Legend, EventOnly: event})
		}
	}
	rules, err := provisioning.PromQL()
	require.NoError(t, err)
	for _, q := range rules {
		out = append(out, Expr{Where: q.Where, Query: q.Expr, EventOnly: q.EventOnly})
	}
	return out
}
