package dashboards

import (
	"encoding/json"
	"reflect"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"

	"github.com/benchstation/benchstation/grafana-plugin/pkg/plugin"
)

// The data sources the dashboards use, with the fixed uids that
// provisioning/grafana/datasources gives them.
const (
	PrometheusUID = "benchstation-prometheus"
	LokiUID       = "benchstation-loki"
	BencherUID    = "benchstation-bencher"
)

// Dashboard uids, stable so that links between dashboards keep working.
const (
	GPUvLLMUID    = "benchstation-gpu-vllm"
	BenchmarksUID = "benchstation-benchmarks"
	BatchJobsUID  = "benchstation-batch-jobs"
)

// Prometheus returns the reference of the provisioned Prometheus.
func Prometheus() common.DataSourceRef { return ref("prometheus", PrometheusUID) }

// Bencher returns the reference of the provisioned bencher data source.
func Bencher() common.DataSourceRef { return ref(plugin.PluginID, BencherUID) }

func ref(typ, uid string) common.DataSourceRef { return common.DataSourceRef{Type: &typ, Uid: &uid} }

// prom returns a Prometheus target; every target has its refId.
func prom(refID, expr, legend string) *prometheus.DataqueryBuilder {
	return prometheus.NewDataqueryBuilder().RefId(refID).Datasource(Prometheus()).Expr(expr).LegendFormat(legend)
}

// BencherQuery is a query of the bencher data source: the plugin's own
// query model (plugin.RunsQuery, plugin.TrendQuery …) with the fields
// Grafana adds to every query.
type BencherQuery struct {
	RefID     string
	QueryType string
	// Model is one of the plugin's query models; its JSON fields are the
	// query's.
	Model any
}

var (
	_ variants.Dataquery              = BencherQuery{}
	_ cog.Builder[variants.Dataquery] = BencherQuery{}
)

// bench returns a bencher target of the given type and model.
func bench(refID, queryType string, model any) BencherQuery {
	return BencherQuery{RefID: refID, QueryType: queryType, Model: model}
}

// Build makes the query its own builder.
func (q BencherQuery) Build() (variants.Dataquery, error) { return q, nil }

// ImplementsDataqueryVariant marks BencherQuery as a Grafana query.
func (BencherQuery) ImplementsDataqueryVariant() {}

// DataqueryType is the plugin's id.
func (BencherQuery) DataqueryType() string { return plugin.PluginID }

// Equals compares two queries.
func (q BencherQuery) Equals(other variants.Dataquery) bool { return reflect.DeepEqual(q, other) }

// Validate accepts every query; the tests send them to the plugin.
func (BencherQuery) Validate() error { return nil }

// MarshalJSON writes the model's fields with refId, queryType and the
// data source reference.
func (q BencherQuery) MarshalJSON() ([]byte, error) {
	raw, err := json.Marshal(q.Model)
	if err != nil {
		return nil, err
	}
	fields := map[string]any{}
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, err
	}
	fields["refId"] = q.RefID
	fields["queryType"] = q.QueryType
	fields["datasource"] = Bencher()
	return json.Marshal(fields)
}
