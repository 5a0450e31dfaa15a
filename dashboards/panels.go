package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/table"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// Units, as Grafana names them.
const (
	unitCelsius  = "celsius"
	unitBytes    = "bytes"
	unitWatts    = "watt"
	unitJoules   = "joule"
	unitHertz    = "hertz"
	unitRatio    = "percentunit"
	unitSeconds  = "s"
	unitReqps    = "reqps"
	unitPerSec   = "short"
	unitCount    = "short"
	unitDateTime = "dateTimeAsIso"
)

// Panel sizes on Grafana's 24-column grid.
const (
	third   = 8
	half    = 12
	full    = 24
	quarter = 6
	tall    = 8
	short   = 4
)

// series is a time-series panel of the given unit and width.
func series(title, desc, unit string, span uint32, targets ...cog.Builder[variants.Dataquery]) *timeseries.PanelBuilder {
	p := timeseries.NewPanelBuilder().Title(title).Description(desc).Unit(unit).
		Span(span).Height(tall).
		Legend(common.NewVizLegendOptionsBuilder().ShowLegend(true).
			DisplayMode(common.LegendDisplayModeList).Placement(common.LegendPlacementBottom)).
		Tooltip(common.NewVizTooltipOptionsBuilder().Mode(common.TooltipDisplayModeMulti).Sort(common.SortOrderDescending)).
		FillOpacity(5).ShowPoints(common.VisibilityModeNever).SpanNulls(common.BoolOrFloat64{Bool: ptr(false)})
	for _, t := range targets {
		p.WithTarget(t)
	}
	return p
}

// single is a stat panel showing the last value of its targets.
func single(title, desc, unit string, span uint32, targets ...cog.Builder[variants.Dataquery]) *stat.PanelBuilder {
	p := stat.NewPanelBuilder().Title(title).Description(desc).Unit(unit).Span(span).Height(short).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"}).Values(false)).
		ColorMode(common.BigValueColorModeValue).GraphMode(common.BigValueGraphModeArea)
	for _, t := range targets {
		p.WithTarget(t)
	}
	return p
}

// grid is a table panel.
func grid(title, desc string, span, height uint32, targets ...cog.Builder[variants.Dataquery]) *table.PanelBuilder {
	p := table.NewPanelBuilder().Title(title).Description(desc).Span(span).Height(height)
	for _, t := range targets {
		p.WithTarget(t)
	}
	return p
}

// thresholds returns absolute thresholds: green below the first value,
// then each color from its value up.
func thresholds(steps ...step) *dashboard.ThresholdsConfigBuilder {
	out := []dashboard.Threshold{{Color: "green"}}
	for _, s := range steps {
		out = append(out, dashboard.Threshold{Value: ptr(s.value), Color: s.color})
	}
	return dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).Steps(out)
}

type step struct {
	value float64
	color string
}

// link is a data link or dashboard link.
func link(title, url string) *dashboard.DashboardLinkBuilder {
	return dashboard.NewDashboardLinkBuilder(title).Type(dashboard.DashboardLinkTypeLink).Url(url).
		TargetBlank(false).KeepTime(false).IncludeVars(false).AsDropdown(false).Tags([]string{}).Icon("")
}

// transform is a panel transformation.
func transform(id string, options any) dashboard.DataTransformerConfig {
	return dashboard.DataTransformerConfig{Id: id, Options: options}
}

func ptr[T any](v T) *T { return &v }
