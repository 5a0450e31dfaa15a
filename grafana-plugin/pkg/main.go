// Command gpx_bencher is the backend of the Benchstation bencher data source
// for Grafana. Grafana starts it as a go-plugin process and talks to it over
// gRPC; it is not meant to be run by hand.
//
// The bencher's live metrics (bencher_*) of the runs it starts are served
// with the plugin's own metrics: Grafana exposes them at
// /metrics/plugins/benchstation-bencher-datasource.
//
// When the plugin ends (SIGTERM, or Grafana stopping it over go-plugin),
// the runs going then are cancelled and write their documents first:
// status interrupted, error "plugin stopped", with the records measured so
// far.
package main

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/datasource"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/benchstation/benchstation/bencher/live"
	"github.com/benchstation/benchstation/grafana-plugin/pkg/plugin"
)

func main() { os.Exit(run()) }

// run serves the data source until Grafana stops the plugin.
func run() int {
	// The SDK logs every failing query twice (the partial response, then the
	// request); RequestLogger keeps one line, at debug level for a user's
	// bad query, which the panel already shows.
	backend.Logger = plugin.RequestLogger(backend.Logger)
	// One Metrics for the process, shared by every instance, on the registry
	// that the SDK's CollectMetrics gathers (prometheus.DefaultGatherer).
	// Grafana runs the plugin for weeks: the series of finished runs are
	// bounded to the newest plugin.LiveRunsKept.
	metrics := live.NewMetrics()
	metrics.KeepFinished(plugin.LiveRunsKept)
	if err := prometheus.DefaultRegisterer.Register(plugin.LiveCollector(metrics)); err != nil {
		backend.Logger.Error("Registering the live metrics", "error", err)
		return 1
	}
	instances := plugin.NewInstances()
	defer instances.Close() // Grafana stopped the plugin: Manage returned
	stopOnSIGTERM(instances)
	factory := plugin.NewFactory(plugin.WithLogger(backend.Logger), plugin.WithLiveMetrics(metrics),
		plugin.WithInstances(instances))
	if err := datasource.Manage(plugin.PluginID, factory, datasource.ManageOpts{}); err != nil {
		backend.Logger.Error("Serving the plugin", "error", err)
		return 1
	}
	return 0
}

// stopOnSIGTERM writes the documents of the runs going when SIGTERM comes,
// then ends the process (go-plugin's server does not stop for it, and
// Go's default is to exit at once, losing the runs' records).
func stopOnSIGTERM(instances *plugin.Instances) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGTERM)
	go func() {
		<-ch
		backend.Logger.Info("SIGTERM: stopping the runs and writing their documents")
		instances.Close()
		os.Exit(0)
	}()
}
