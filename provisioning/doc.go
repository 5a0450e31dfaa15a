// Package provisioning builds Benchstation's Grafana alert rules as code
// (grafana-foundation-sdk) and writes them as the provisioning file
// grafana/alerting/rules.yaml next to this package. `go tool mage
// dashboards` regenerates the file, and a test fails when the committed
// file and the code disagree. The tests also check the other provisioning
// files of this directory tree.
package provisioning
