package stacktest

import (
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/Masterminds/semver/v3"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// imageUsers are the users the third-party base images run as, by image
// name (without tag) or name:tag: what the Dockerfile's stages and the
// compose services inherit when they set no USER or user: of their own.
var imageUsers = map[string]int{
	"gcr.io/distroless/static-debian12:nonroot": 65532,
	"gcr.io/distroless/static-debian12":         0,
	"grafana/grafana":                           472,
	"debian":                                    0,
	"golang":                                    0,
	"node":                                      0,
	"busybox":                                   0,
}

// namedUsers are the user names the Dockerfile uses in USER.
var namedUsers = map[string]int{"root": 0, "nonroot": 65532}

// dockerStage is what the volume checks need of a Dockerfile stage: the
// user it runs as, and the owner of the directories it creates.
type dockerStage struct {
	base   string         // the image or stage it starts FROM, build args expanded
	user   int            // -1: unknown
	owners map[string]int // directory -> uid
}

// loadDockerfile parses the Dockerfile with BuildKit's own parser and
// follows, stage by stage, USER, WORKDIR (BuildKit creates a missing
// WORKDIR with the current user as owner), COPY/ADD --chown and the
// mkdir/chown of RUN lines.
func loadDockerfile(t testing.TB) (map[string]*dockerStage, map[string]string) {
	t.Helper()
	f, err := os.Open(filepath.Join(composeRepoRoot(t), composeDockerfile))
	require.NoError(t, err)
	defer f.Close()
	res, err := parser.Parse(f)
	require.NoError(t, err)
	stages, metaArgs, err := instructions.Parse(res.AST, nil)
	require.NoError(t, err)
	args := map[string]string{}
	for _, a := range metaArgs {
		for _, kv := range a.Args {
			if kv.Value != nil {
				args[kv.Key] = *kv.Value
			}
		}
	}
	expand := func(s string) string {
		return os.Expand(s, func(k string) string { return args[k] })
	}
	out := map[string]*dockerStage{}
	for _, st := range stages {
		ds := &dockerStage{base: expand(st.BaseName), user: -1, owners: map[string]int{}}
		if prev, ok := out[ds.base]; ok {
			ds.user = prev.user
			for k, v := range prev.owners {
				ds.owners[k] = v
			}
		} else if u, ok := imageUser(ds.base); ok {
			ds.user = u
		}
		for _, c := range st.Commands {
			switch c := c.(type) {
			case *instructions.UserCommand:
				ds.user = parseUID(t, c.User)
			case *instructions.WorkdirCommand:
				if _, ok := ds.owners[path.Clean(c.Path)]; !ok {
					ds.owners[path.Clean(c.Path)] = ds.user
				}
			case *instructions.CopyCommand:
				owner := 0
				if c.Chown != "" {
					owner = parseUID(t, c.Chown)
				}
				ds.owners[path.Clean(c.DestPath)] = owner
			case *instructions.RunCommand:
				runOwners(t, strings.Join(c.CmdLine, " "), ds)
			}
		}
		out[st.Name] = ds
	}
	return out, args
}

// imageUser returns the user a third-party image runs as.
func imageUser(ref string) (int, bool) {
	if u, ok := imageUsers[ref]; ok {
		return u, true
	}
	name, _, _ := strings.Cut(ref, "@")
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		name = name[:i]
	}
	u, ok := imageUsers[name]
	return u, ok
}

// parseUID reads the user of USER, --chown or compose's user: "472",
// "472:0", "root", "nonroot:nonroot".
func parseUID(t testing.TB, spec string) int {
	t.Helper()
	user, _, _ := strings.Cut(spec, ":")
	if n, err := strconv.Atoi(user); err == nil {
		return n
	}
	n, ok := namedUsers[user]
	require.True(t, ok, "user %q: add its uid to namedUsers", user)
	return n
}

// runOwners applies the mkdir and chown commands of a RUN line.
func runOwners(t testing.TB, line string, ds *dockerStage) {
	for _, cmd := range regexp.MustCompile(`&&|\|\||;`).Split(line, -1) {
		fields := strings.Fields(cmd)
		if len(fields) == 0 {
			continue
		}
		var operands []string
		for _, f := range fields[1:] {
			if !strings.HasPrefix(f, "-") {
				operands = append(operands, f)
			}
		}
		switch fields[0] {
		case "mkdir":
			for _, p := range operands {
				if _, ok := ds.owners[path.Clean(p)]; !ok {
					ds.owners[path.Clean(p)] = ds.user
				}
			}
		case "chown":
			if len(operands) < 2 {
				continue
			}
			uid := parseUID(t, operands[0])
			for _, p := range operands[1:] {
				ds.owners[path.Clean(p)] = uid
			}
		}
	}
}

// TestComposeVolumeWriters checks that every service that writes to a
// named volume another service also mounts runs as the user that owns it.
// Docker gives an empty named volume the owner and mode of the image's
// directory it is mounted on, in whichever container mounts it first: so
// that directory must belong, in each writer's image, to the writer's user
// (root, which may write anything and chowns in grafana-init, excepted).
func TestComposeVolumeWriters(t *testing.T) {
	stages, _ := loadDockerfile(t)
	p := mustLoadCompose(t, "*")
	mounts := map[string][]string{} // volume -> services
	for _, s := range p.Services {
		for _, v := range s.Volumes {
			if v.Type == types.VolumeTypeVolume {
				mounts[v.Source] = append(mounts[v.Source], s.Name)
			}
		}
	}
	checked := 0
	for _, s := range p.Services {
		for _, v := range s.Volumes {
			if v.Type != types.VolumeTypeVolume || v.ReadOnly || len(mounts[v.Source]) < 2 {
				continue
			}
			uid, how := serviceUser(t, s, stages)
			require.GreaterOrEqual(t, uid, 0, "service %s: the user of image %q is unknown; add it to imageUsers", s.Name, s.Image)
			checked++
			if uid == 0 {
				continue
			}
			require.NotNil(t, s.Build, "service %s writes to volume %s as uid %d from an image not built here: its directory's owner is unknown", s.Name, v.Source, uid)
			owner, ok := stages[s.Build.Target].owners[path.Clean(v.Target)]
			if assert.True(t, ok, "service %s writes to shared volume %s at %s as uid %d (%s), but the %s image has no %s: "+
				"Docker would create it as root and the write would fail", s.Name, v.Source, v.Target, uid, how, s.Build.Target, v.Target) {
				assert.Equal(t, uid, owner, "service %s writes to shared volume %s at %s as uid %d (%s), but in the %s image %s belongs to uid %d: "+
					"on a fresh volume the write fails with permission denied", s.Name, v.Source, v.Target, uid, how, s.Build.Target, v.Target, owner)
			}
		}
	}
	assert.GreaterOrEqual(t, checked, 4, "the results and secrets volumes have four writers: grafana-init twice, grafana, bencher")
}

// serviceUser returns the uid a service runs as, and where it comes from.
func serviceUser(t testing.TB, s types.ServiceConfig, stages map[string]*dockerStage) (int, string) {
	switch {
	case s.User != "":
		return parseUID(t, s.User), "its user: in " + composeFilePath
	case s.Build != nil:
		return stages[s.Build.Target].user, "the USER of the Dockerfile's " + s.Build.Target + " stage"
	}
	u, ok := imageUser(s.Image)
	if !ok {
		return -1, ""
	}
	return u, "the user of image " + s.Image
}

// TestDockerfileModel checks the model the volume test relies on against
// the Dockerfile's known facts, so that a parser change cannot make it
// pass on nothing.
func TestDockerfileModel(t *testing.T) {
	stages, _ := loadDockerfile(t)
	require.Contains(t, stages, "grafana")
	assert.Equal(t, 472, stages["grafana"].user)
	assert.Equal(t, 472, stages["grafana"].owners["/var/lib/grafana/benchstation-results"])
	assert.Equal(t, 65532, stages["exporter"].user)
	assert.Equal(t, 65532, stages["bencher"].user, "the distroless nonroot base")

	ds := &dockerStage{user: 65532, owners: map[string]int{}}
	runOwners(t, "mkdir -p /a /b && chown -R 472:0 /b; chmod 0755 /c", ds)
	assert.Equal(t, map[string]int{"/a": 65532, "/b": 472}, ds.owners)
}

// grafanaE2EVersion returns the version of the Grafana that `go tool mage
// e2e` runs (../shared/tools/grafana), "" where it is not installed.
func grafanaE2EVersion(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(composeRepoRoot(t), "..", "shared", "tools", "grafana")
	matches, _ := filepath.Glob(filepath.Join(dir, "grafana-*.tar.zst"))
	for _, m := range matches {
		if v := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(m), "grafana-"), ".tar.zst"); semverOK(v) {
			return v
		}
	}
	return ""
}

func semverOK(v string) bool { _, err := semver.StrictNewVersion(v); return err == nil }

// TestOneGrafanaVersion checks that the Grafana the stack ships, the one
// the plugin says it needs (plugin.json's grafanaDependency), the @grafana
// packages it is compiled against and the Grafana the end-to-end suite
// runs agree: one minor release, every one inside the plugin's range.
func TestOneGrafanaVersion(t *testing.T) {
	root := composeRepoRoot(t)
	_, args := loadDockerfile(t)
	image := args["GRAFANA_IMAGE"]
	require.NotEmpty(t, image, "the Dockerfile has no GRAFANA_IMAGE default")
	name, tag, _ := strings.Cut(image, ":")
	require.Equal(t, "grafana/grafana", name)
	shipped, err := semver.StrictNewVersion(tag)
	require.NoError(t, err, "GRAFANA_IMAGE %q must name an exact Grafana release", image)

	var plugin struct {
		Dependencies struct {
			GrafanaDependency string `json:"grafanaDependency"`
		} `json:"dependencies"`
	}
	b, err := os.ReadFile(filepath.Join(root, pluginJSONPath))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &plugin))
	rng, err := semver.NewConstraint(plugin.Dependencies.GrafanaDependency)
	require.NoError(t, err, "%s: grafanaDependency", pluginJSONPath)
	minimum := regexp.MustCompile(`^>=\s*(\d+\.\d+\.\d+)$`).FindStringSubmatch(plugin.Dependencies.GrafanaDependency)
	require.NotNil(t, minimum, "grafanaDependency %q: want >=MAJOR.MINOR.0, the oldest Grafana the plugin is built for", plugin.Dependencies.GrafanaDependency)
	low := semver.MustParse(minimum[1])

	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	b, err = os.ReadFile(filepath.Join(root, "grafana-plugin", "package.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &pkg))

	sameMinor := func(what string, v *semver.Version) {
		t.Helper()
		assert.True(t, rng.Check(v), "%s is %s, outside plugin.json's grafanaDependency %q", what, v, plugin.Dependencies.GrafanaDependency)
		assert.True(t, v.Major() == low.Major() && v.Minor() == low.Minor(),
			"%s is %s, not of the %d.%d release that grafanaDependency starts at", what, v, low.Major(), low.Minor())
	}
	sameMinor("the compose stack's Grafana ("+composeDockerfile+" GRAFANA_IMAGE)", shipped)
	n := 0
	for dep, ver := range pkg.Dependencies {
		if !strings.HasPrefix(dep, "@grafana/") {
			continue
		}
		v, err := semver.StrictNewVersion(ver)
		if assert.NoError(t, err, "package.json pins %s to %q: want an exact version", dep, ver) {
			sameMinor("package.json's "+dep, v)
		}
		n++
	}
	assert.GreaterOrEqual(t, n, 4, "@grafana/data, runtime, schema and ui at least")
	if e2e := grafanaE2EVersion(t); e2e != "" {
		assert.Equal(t, e2e, shipped.String(), "the stack ships Grafana %s but the end-to-end suite tests %s", shipped, e2e)
	} else {
		t.Logf("../shared/tools/grafana is not here: the shipped Grafana is not compared with the tested one")
	}

	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	require.NoError(t, err)
	for _, want := range []string{"Grafana " + shipped.String(), fmt.Sprintf("Grafana %d.%d.0 or later", low.Major(), low.Minor())} {
		assert.True(t, strings.Contains(string(readme), want), "the README does not say %q", want)
	}
}

// TestNodeVersion checks that the plugin's frontend is built on a Node
// release that is still supported (22 or 24; Node 20 reached its end of
// life in April 2026), the same in the Dockerfile and in .nvmrc.
func TestNodeVersion(t *testing.T) {
	_, args := loadDockerfile(t)
	m := regexp.MustCompile(`^node:(\d+)[.-]`).FindStringSubmatch(args["NODE_IMAGE"])
	require.NotNil(t, m, "NODE_IMAGE %q: want node:MAJOR-…", args["NODE_IMAGE"])
	b, err := os.ReadFile(filepath.Join(composeRepoRoot(t), "grafana-plugin", ".nvmrc"))
	require.NoError(t, err)
	nvmrc := strings.TrimPrefix(strings.TrimSpace(string(b)), "v")
	nvmrc, _, _ = strings.Cut(nvmrc, ".")
	assert.Equal(t, m[1], nvmrc, "the Dockerfile builds on Node %s, .nvmrc says %s", m[1], nvmrc)
	assert.Contains(t, []string{"22", "24"}, m[1], "Node %s is not a supported LTS release", m[1])
}

// TestComposeSELinuxLabels checks that the repository's files are bind
// mounted with SELinux's shared label (:z), which hosts that enforce
// SELinux require, and that host paths that are not the repository's
// (/proc, the Docker socket) are not relabelled.
func TestComposeSELinuxLabels(t *testing.T) {
	root := composeRepoRoot(t)
	p := mustLoadCompose(t, "*")
	n := 0
	for _, s := range p.Services {
		for _, v := range s.Volumes {
			if v.Type != types.VolumeTypeBind {
				continue
			}
			label := ""
			if v.Bind != nil {
				label = v.Bind.SELinux
			}
			if strings.HasPrefix(v.Source, root+string(filepath.Separator)) {
				n++
				assert.Equal(t, "z", label, "service %s mounts %s without :z: SELinux denies it to the container", s.Name, v.Source)
			} else {
				assert.Empty(t, label, "service %s relabels the host's %s", s.Name, v.Source)
				assert.True(t, slices.Contains(composeHostPaths, v.Source), "service %s mounts the host's %s", s.Name, v.Source)
			}
		}
	}
	assert.GreaterOrEqual(t, n, 5, "prometheus, grafana (two), loki and alloy mount repository files")
}
