// Package promcheck checks the PromQL of Benchstation's dashboards and
// alert rules: that it parses, and that every metric it names is one
// Benchstation or vLLM really exposes.
//
// The known metrics come from the exporter's golden expositions
// (exporter/collector/testdata/*.prom), the vLLM reference exposition
// (testdata/vllm-metrics.txt, a copy of ../shared/fixtures/vllm-metrics.txt),
// the bencher's live metrics (package bencher/live), the recording rules
// of provisioning/prometheus/rules, and the series Prometheus makes itself
// (up, ALERTS …).
package promcheck

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/benchstation/benchstation/bencher"
	"github.com/benchstation/benchstation/bencher/live"
)

// Sources of known metrics, as Catalog reports them.
const (
	SourceExporter   = "exporter golden output"
	SourceVLLM       = "vLLM reference exposition"
	SourceBencher    = "bencher live metrics"
	SourceRecording  = "recording rule"
	SourcePrometheus = "Prometheus's own series"
)

// Deprecated are vLLM metric names (or prefixes, ending in "*") that were
// renamed; dashboards and alerts must use the current names.
var Deprecated = []string{
	"vllm:gpu_cache_usage_perc",
	"vllm:gpu_prefix_cache_*",
	"vllm:time_per_output_token_seconds*",
	"vllm:cpu_cache_usage_perc",
}

// Catalog maps each known metric name to where it is known from.
type Catalog map[string]string

// Load builds the catalog from the repository whose root is root.
func Load(root string) (Catalog, error) {
	c := Catalog{}
	for _, name := range []string{"up", "scrape_duration_seconds", "scrape_samples_scraped",
		"scrape_samples_post_metric_relabeling", "scrape_series_added", "ALERTS", "ALERTS_FOR_STATE"} {
		c[name] = SourcePrometheus
	}
	golden, err := filepath.Glob(filepath.Join(root, "exporter", "collector", "testdata", "*.prom"))
	if err != nil || len(golden) == 0 {
		return nil, fmt.Errorf("no exporter golden files under %s", filepath.Join(root, "exporter/collector/testdata"))
	}
	for _, path := range append(golden, VLLMFixture(root)) {
		raw, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		src := SourceExporter
		if path == VLLMFixture(root) {
			src = SourceVLLM
		}
		if err := c.addExposition(raw, src); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	if err := c.addBencher(); err != nil {
		return nil, err
	}
	rules, err := filepath.Glob(filepath.Join(root, "provisioning", "prometheus", "rules", "*.yml"))
	if err != nil {
		return nil, err
	}
	for _, path := range rules {
		groups, errs := rulefmt.ParseFile(path, false, model.UTF8Validation, parser.NewParser(parser.Options{}), nil)
		if len(errs) > 0 {
			return nil, fmt.Errorf("%s: %w", path, errors.Join(errs...))
		}
		for _, g := range groups.Groups {
			for _, r := range g.Rules {
				if r.Record != "" {
					c[r.Record] = SourceRecording
				}
			}
		}
	}
	return c, nil
}

// VLLMFixture is the path of the vLLM reference exposition.
func VLLMFixture(root string) string {
	return filepath.Join(root, "internal", "promcheck", "testdata", "vllm-metrics.txt")
}

// addExposition adds the sample names of a text exposition.
func (c Catalog) addExposition(raw []byte, src string) error {
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(bytes.NewReader(raw))
	if err != nil {
		return err
	}
	for _, mf := range families {
		c.addFamily(mf, src)
	}
	return nil
}

// addFamily adds the names of a family's samples.
func (c Catalog) addFamily(mf *dto.MetricFamily, src string) {
	name := mf.GetName()
	switch mf.GetType() {
	case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
		for _, s := range []string{"_bucket", "_sum", "_count"} {
			c[name+s] = src
		}
	case dto.MetricType_SUMMARY:
		c[name], c[name+"_sum"], c[name+"_count"] = src, src, src
	default:
		c[name] = src
	}
}

// addBencher adds the bencher's live metrics, gathered after one run
// observed a record, so that every family has a series.
func (c Catalog) addBencher() error {
	m := live.NewMetrics()
	r := live.NewRun(live.RunInfo{ID: "catalog", Profile: "chat"}, m)
	r.Start(progress{})
	r.Observe(bencher.Record{FirstToken: time.Millisecond, End: 3 * time.Millisecond, OutputTokens: 2,
		ChunkTimes: []time.Duration{time.Millisecond, 2 * time.Millisecond}, Attempts: 1})
	families, err := m.Registry().Gather()
	if err != nil {
		return fmt.Errorf("gathering the bencher's live metrics: %w", err)
	}
	for _, mf := range families {
		if strings.HasPrefix(mf.GetName(), live.Namespace+"_") {
			c.addFamily(mf, SourceBencher)
		}
	}
	return nil
}

type progress struct{}

func (progress) Progress() bencher.Progress { return bencher.Progress{} }

// grafanaVar matches Grafana's variables: $name, ${name}, ${name:format}
// and [[name]].
var grafanaVar = regexp.MustCompile(`\$\{[A-Za-z0-9_]+(?::[^}]*)?\}|\$[A-Za-z0-9_]+|\[\[[A-Za-z0-9_]+\]\]`)

// Substitute replaces Grafana's variables so that the expression is PromQL:
// range variables ($__rate_interval, $__interval, $__range …) become rng,
// every other variable ".*" (what "All" means in a regex matcher).
func Substitute(expr, rng string) string {
	return grafanaVar.ReplaceAllStringFunc(expr, func(v string) string {
		name := strings.Trim(v, "${}[]")
		name, _, _ = strings.Cut(name, ":")
		if strings.HasPrefix(name, "__") {
			return rng
		}
		return ".*"
	})
}

// Parse parses PromQL, Grafana's variables substituted first.
func Parse(expr string) (parser.Expr, error) {
	return parser.NewParser(parser.Options{}).ParseExpr(Substitute(expr, "5m"))
}

// Metrics returns the metric names an expression selects, sorted.
func Metrics(e parser.Expr) []string {
	set := map[string]bool{}
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			set[selectorName(vs)] = true
		}
		return nil
	})
	out := make([]string, 0, len(set))
	for n := range set {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// selectorName is a selector's metric name, from its name or an equality
// matcher on __name__; "" when it has neither.
func selectorName(vs *parser.VectorSelector) string {
	if vs.Name != "" {
		return vs.Name
	}
	for _, m := range vs.LabelMatchers {
		if m.Name == model.MetricNameLabel && m.Type == 0 { // labels.MatchEqual
			return m.Value
		}
	}
	return ""
}

// Check parses expr and checks that every metric it names is known and
// none is deprecated. The error names each problem.
func (c Catalog) Check(expr string) error {
	e, err := Parse(expr)
	if err != nil {
		return fmt.Errorf("does not parse: %w", err)
	}
	var errs []error
	for _, name := range Metrics(e) {
		switch {
		case name == "":
			errs = append(errs, errors.New("a selector has no metric name"))
		case isDeprecated(name):
			errs = append(errs, fmt.Errorf("metric %s is a deprecated vLLM name", name))
		case c[name] == "":
			errs = append(errs, fmt.Errorf("metric %s is not in the exporter's golden output, the vLLM reference exposition, "+
				"the bencher's live metrics or the recording rules", name))
		}
	}
	return errors.Join(errs...)
}

// isDeprecated reports whether name is one of the Deprecated names.
func isDeprecated(name string) bool {
	return slices.ContainsFunc(Deprecated, func(d string) bool {
		if p, ok := strings.CutSuffix(d, "*"); ok {
			return strings.HasPrefix(name, p)
		}
		return name == d
	})
}
