// Command gpx_bencher is the backend of the Benchstation bencher data source
// for Grafana. Grafana starts it as a go-plugin process and talks to it over
// gRPC; it is not meant to be run by hand.
package main

import (
	"os"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/datasource"

	"github.com/benchstation/benchstation/grafana-plugin/pkg/plugin"
)

func main() { os.Exit(run()) }

// run serves the data source until Grafana stops the plugin.
func run() int {
	factory := plugin.NewFactory(plugin.WithLogger(backend.Logger))
	if err := datasource.Manage(plugin.PluginID, factory, datasource.ManageOpts{}); err != nil {
		backend.Logger.Error("Serving the plugin", "error", err)
		return 1
	}
	return 0
}
