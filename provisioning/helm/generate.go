// Package helm holds the Helm chart of Benchstation (benchstation/) and
// generates the chart's files that come from elsewhere in the repository:
// a chart can read only its own files, so the dashboards and the rules are
// copied into it (files/), and its tests fail when a copy drifts.
package helm

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/benchstation/benchstation/provisioning"
)

// ChartDir is the chart's directory, from this package.
const ChartDir = "benchstation"

// copiedHeader opens a rule file copied into the chart.
const copiedHeader = "# Copied from provisioning/prometheus/rules/%s by provisioning/helm (go tool mage dashboards): do not edit.\n"

// ruleCopies are the chart's copies of the recording rule files, by their
// name in provisioning/prometheus/rules.
var ruleCopies = map[string]string{
	"vllm.yml":   "files/rules/recording.yaml",
	"compat.yml": "files/rules/compat.yaml",
}

// Generated returns the chart's generated files, by their path in the
// chart, from the repository at root: the Prometheus alert rules of
// provisioning/alerts.go, the recording rules and the dashboards.
func Generated(root string) (map[string][]byte, error) {
	out := map[string][]byte{}
	alerts, err := provisioning.PromRulesYAML()
	if err != nil {
		return nil, err
	}
	out["files/rules/alerts.yaml"] = alerts
	for src, dst := range ruleCopies {
		raw, err := os.ReadFile(filepath.Join(root, "provisioning", "prometheus", "rules", src))
		if err != nil {
			return nil, err
		}
		out[dst] = append([]byte(fmt.Sprintf(copiedHeader, src)), raw...)
	}
	boards, err := filepath.Glob(filepath.Join(root, "dashboards", "*.json"))
	if err != nil {
		return nil, err
	}
	if len(boards) == 0 {
		return nil, fmt.Errorf("no dashboards in %s", filepath.Join(root, "dashboards"))
	}
	for _, p := range boards {
		raw, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		out["files/dashboards/"+filepath.Base(p)] = raw
	}
	return out, nil
}

// Write writes the generated files into the chart at chartDir, and
// removes the generated files of dashboards that are gone.
func Write(root, chartDir string) error {
	files, err := Generated(root)
	if err != nil {
		return err
	}
	stale, err := Stale(chartDir, files)
	if err != nil {
		return err
	}
	for _, p := range stale {
		if err := os.Remove(filepath.Join(chartDir, filepath.FromSlash(p))); err != nil {
			return err
		}
	}
	for p, raw := range files {
		dst := filepath.Join(chartDir, filepath.FromSlash(p))
		if old, err := os.ReadFile(dst); err == nil && bytes.Equal(old, raw) {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(dst, raw, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Stale lists the files under the chart's files/ that files does not
// hold: left over from a dashboard or rule file that is gone.
func Stale(chartDir string, files map[string][]byte) ([]string, error) {
	var stale []string
	err := filepath.WalkDir(filepath.Join(chartDir, "files"), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(chartDir, p)
		if err != nil {
			return err
		}
		if _, ok := files[filepath.ToSlash(rel)]; !ok {
			stale = append(stale, filepath.ToSlash(rel))
		}
		return nil
	})
	if os.IsNotExist(err) {
		err = nil
	}
	sort.Strings(stale)
	return stale, err
}
