package stacktest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// The compose stack's files, relative to the repository root.
const (
	composeFilePath   = "docker-compose.yml"
	composeDockerfile = "Dockerfile"
	lokiConfigPath    = "provisioning/loki/loki.yaml"
	alloyConfigPath   = "provisioning/alloy/config.alloy"
	pluginJSONPath    = "grafana-plugin/src/plugin.json"
)

// composePorts are the published ports of DESIGN.md and the stack's
// contract, "host:container" per service; no other service publishes one.
var composePorts = map[string][]string{
	"grafana":      {"4020:3000"},
	"loki":         {"4021:3100"},
	"prometheus":   {"4022:9090"},
	"label-studio": {"4015:8080"},
	"vllm":         {"4080:8000"},
	"vllm-sim":     {"4080:8000"},
}

// composeOneShot are the services that run to completion; every other
// service is long-running.
var composeOneShot = []string{"grafana-init", "bencher"}

// composeHostPaths are the host paths outside the repository that services
// may bind-mount: the host's procfs (exporter process names) and the Docker
// socket (Alloy reads the containers' logs).
var composeHostPaths = []string{"/proc", "/var/run/docker.sock"}

// composeState is where each service keeps its state: each must be a named
// volume, so that nothing is lost on restart or re-creation.
var composeState = map[string][]string{
	"vllm":         {"/root/.cache/huggingface"},
	"prometheus":   {"/prometheus"},
	"grafana":      {"/var/lib/grafana", "/var/lib/grafana/benchstation-results", "/run/secrets/grafana"},
	"grafana-init": {"/secrets", "/results"},
	"loki":         {"/loki"},
	"alloy":        {"/var/lib/alloy/data"},
	"label-studio": {"/label-studio/data"},
	"bencher":      {"/results"},
}

// composeUserEnv is the environment of a user who starts the stack with the
// documented variables; the tests add COMPOSE_PROFILES.
var composeUserEnv = []string{
	"HF_TOKEN=hf_token_from_the_users_environment",
	"ALERT_WEBHOOK_URL=https://alerts.example.com/hook",
}

// composeRepoRoot returns the directory above the test's working directory
// that holds go.mod.
func composeRepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		require.NotEqual(t, parent, dir, "no go.mod above the test's directory")
		dir = parent
	}
}

// loadCompose loads and validates docker-compose.yml the way `docker
// compose` does, with COMPOSE_PROFILES set to profiles ("*" enables every
// profile) and composeUserEnv as the environment.
func loadCompose(t testing.TB, profiles string, extraEnv ...string) (*types.Project, error) {
	t.Helper()
	root := composeRepoRoot(t)
	env := append(slices.Clone(composeUserEnv), extraEnv...)
	env = append(env, "COMPOSE_PROFILES="+profiles)
	opts, err := cli.NewProjectOptions([]string{filepath.Join(root, composeFilePath)},
		cli.WithWorkingDirectory(root),
		cli.WithEnv(env),
		cli.WithDefaultProfiles(),
		cli.WithResolvedPaths(true),
		cli.WithConsistency(true),
	)
	if err != nil {
		return nil, err
	}
	return opts.LoadProject(context.Background())
}

// mustLoadCompose is loadCompose that fails the test on an error.
func mustLoadCompose(t testing.TB, profiles string, extraEnv ...string) *types.Project {
	t.Helper()
	p, err := loadCompose(t, profiles, extraEnv...)
	require.NoError(t, err, "%s does not load with COMPOSE_PROFILES=%q", composeFilePath, profiles)
	return p
}

// composeGPURequests lists what a service asks of GPUs: device reservations,
// `gpus:`, the nvidia runtime and /dev/nvidia* devices.
func composeGPURequests(s types.ServiceConfig) []string {
	var out []string
	if s.Deploy != nil && s.Deploy.Resources.Reservations != nil {
		for _, d := range s.Deploy.Resources.Reservations.Devices {
			out = append(out, fmt.Sprintf("deploy.resources.reservations.devices (driver %q, capabilities %v)", d.Driver, d.Capabilities))
		}
	}
	for _, d := range s.Gpus {
		out = append(out, fmt.Sprintf("gpus (driver %q)", d.Driver))
	}
	if s.Runtime == "nvidia" {
		out = append(out, "runtime: nvidia")
	}
	for _, d := range s.Devices {
		if strings.Contains(d.Source, "nvidia") {
			out = append(out, "device "+d.Source)
		}
	}
	return out
}

func TestCompose(t *testing.T) {
	root := composeRepoRoot(t)

	t.Run("the file loads and validates with each profile set", func(t *testing.T) {
		for _, profiles := range []string{"", "gpu", "demo", "gpu,labelstudio,bencher", "demo,labelstudio,bencher", "*"} {
			p, err := loadCompose(t, profiles)
			if !assert.NoError(t, err, "%s is invalid with COMPOSE_PROFILES=%q", composeFilePath, profiles) {
				continue
			}
			assert.Equal(t, "benchstation", p.Name, "the project name (so volumes are benchstation_*)")
			assert.NoError(t, p.CheckContainerNameUnicity(), "COMPOSE_PROFILES=%q", profiles)
		}
	})

	t.Run("every bind-mount source exists in the repository", func(t *testing.T) {
		p := mustLoadCompose(t, "*")
		for _, s := range p.Services {
			for _, v := range s.Volumes {
				if v.Type != types.VolumeTypeBind {
					continue
				}
				rel, err := filepath.Rel(root, v.Source)
				if err != nil || strings.HasPrefix(rel, "..") {
					assert.Contains(t, composeHostPaths, v.Source,
						"service %s bind-mounts %s from outside the repository, and it is not one of the host paths the stack may mount", s.Name, v.Source)
					continue
				}
				_, err = os.Stat(v.Source)
				assert.NoError(t, err, "service %s mounts ./%s at %s, which is not in the repository", s.Name, rel, v.Target)
			}
			if s.Build != nil {
				_, err := os.Stat(filepath.Join(s.Build.Context, s.Build.Dockerfile))
				assert.NoError(t, err, "service %s builds from %s, which is missing", s.Name, filepath.Join(s.Build.Context, s.Build.Dockerfile))
			}
		}
	})

	t.Run("published ports are the documented ones", func(t *testing.T) {
		p := mustLoadCompose(t, "*")
		got := map[string][]string{}
		for _, s := range p.Services {
			for _, port := range s.Ports {
				if port.Published == "" {
					continue
				}
				got[s.Name] = append(got[s.Name], fmt.Sprintf("%s:%d", port.Published, port.Target))
				assert.Empty(t, port.HostIP, "service %s binds port %s to one address only", s.Name, port.Published)
				assert.Equal(t, "tcp", port.Protocol, "service %s port %s", s.Name, port.Published)
			}
		}
		for name := range composePorts {
			_, err := p.GetService(name)
			assert.NoError(t, err, "service %s of the documented ports is not in %s", name, composeFilePath)
		}
		for name, ports := range got {
			assert.Equal(t, composePorts[name], ports, "service %s publishes %v; DESIGN.md says %v", name, ports, composePorts[name])
		}
		for name, ports := range composePorts {
			assert.Equal(t, ports, got[name], "service %s should publish %v", name, ports)
		}
	})

	t.Run("the demo profile needs no GPU and runs both simulated services", func(t *testing.T) {
		p := mustLoadCompose(t, "demo")
		for _, s := range p.Services {
			assert.Empty(t, composeGPURequests(s), "service %s asks for a GPU under the demo profile", s.Name)
		}
		names := p.ServiceNames()
		for _, real := range []string{"vllm", "exporter"} {
			assert.NotContains(t, names, real, "the demo profile starts the GPU service %s", real)
		}
		for sim, alias := range map[string]string{"vllm-sim": "vllm", "exporter-sim": "exporter"} {
			s, err := p.GetService(sim)
			if !assert.NoError(t, err, "the demo profile does not start %s", sim) {
				continue
			}
			assert.Equal(t, "true", s.Labels["benchstation.simulated"], "%s is not labelled benchstation.simulated=true", sim)
			assert.Contains(t, strings.ToUpper(s.Labels["benchstation.description"]), "SIMULATED", "%s's description label does not say SIMULATED", sim)
			var aliases []string
			for _, n := range s.Networks {
				if n != nil {
					aliases = append(aliases, n.Aliases...)
				}
			}
			assert.Contains(t, aliases, alias, "%s must answer as host %q, which Prometheus scrapes", sim, alias)
		}
		if s, err := p.GetService("exporter-sim"); err == nil {
			assert.True(t, slices.ContainsFunc(s.Command, func(a string) bool {
				return strings.HasPrefix(a, "--nvml.simulate=") && len(a) > len("--nvml.simulate=")
			}),
				"exporter-sim runs %v, without --nvml.simulate=MODEL", s.Command)
		}
		if s, err := p.GetService("vllm-sim"); err == nil {
			assert.Equal(t, "sim", s.Command[0], "vllm-sim runs %v, not `bencher sim`", s.Command)
			assert.Contains(t, strings.Join(s.Command, " "), "--listen :8000", "vllm-sim must listen on :8000 in the container, as vLLM does")
		}
	})

	t.Run("the gpu profile reserves GPUs for vllm and the exporter only", func(t *testing.T) {
		p := mustLoadCompose(t, "gpu")
		want := map[string][]string{"vllm": {"gpu"}, "exporter": {"gpu", "utility"}}
		for _, s := range p.Services {
			caps, ok := want[s.Name]
			if !ok {
				assert.Empty(t, composeGPURequests(s), "service %s asks for a GPU", s.Name)
				continue
			}
			var devices []types.DeviceRequest
			if s.Deploy != nil && s.Deploy.Resources.Reservations != nil {
				devices = s.Deploy.Resources.Reservations.Devices
			}
			if !assert.Len(t, devices, 1, "service %s must reserve the GPUs with deploy.resources.reservations.devices", s.Name) {
				continue
			}
			assert.Equal(t, "nvidia", devices[0].Driver, "service %s's GPU driver", s.Name)
			for _, c := range caps {
				assert.Contains(t, devices[0].Capabilities, c, "service %s's GPU capabilities", s.Name)
			}
			assert.True(t, devices[0].Count == -1 || devices[0].Count > 0 || len(devices[0].IDs) > 0, "service %s reserves no GPU (count %d)", s.Name, devices[0].Count)
		}
		for name := range want {
			_, err := p.GetService(name)
			assert.NoError(t, err, "the gpu profile does not start %s", name)
		}
		for _, sim := range []string{"vllm-sim", "exporter-sim"} {
			assert.NotContains(t, p.ServiceNames(), sim, "the gpu profile starts the simulated %s", sim)
		}
		if s, err := p.GetService("exporter"); err == nil {
			assert.Contains(t, s.Command, "--path.procfs=/host/proc", "the exporter must read process names from the host's /proc")
			assert.True(t, slices.ContainsFunc(s.Volumes, func(v types.ServiceVolumeConfig) bool {
				return v.Source == "/proc" && v.Target == "/host/proc" && v.ReadOnly
			}), "the exporter must mount the host's /proc read-only at /host/proc")
		}
		if s, err := p.GetService("vllm"); err == nil {
			assert.Contains(t, strings.Join(s.Command, " "), "--model ", "vLLM's model must be set (from VLLM_MODEL)")
			assert.True(t, s.Ipc == "host" || s.ShmSize > 0, "vLLM needs shared memory: ipc: host or shm_size")
		}
	})

	t.Run("vLLM's model and token come from the environment", func(t *testing.T) {
		p := mustLoadCompose(t, "gpu", "VLLM_MODEL=example-org/example-model")
		s, err := p.GetService("vllm")
		require.NoError(t, err)
		assert.Contains(t, strings.Join(s.Command, " "), "--model example-org/example-model", "VLLM_MODEL does not set vLLM's model")
		token := s.Environment["HF_TOKEN"]
		if assert.NotNil(t, token, "vLLM gets no HF_TOKEN") {
			assert.Equal(t, "hf_token_from_the_users_environment", *token, "vLLM's HF_TOKEN is not the user's")
		}
	})

	t.Run("every long-running service has a health check and restarts", func(t *testing.T) {
		p := mustLoadCompose(t, "*")
		for _, s := range p.Services {
			if slices.Contains(composeOneShot, s.Name) {
				assert.Equal(t, "no", s.Restart, "one-shot service %s must not be restarted", s.Name)
				continue
			}
			assert.Equal(t, types.RestartPolicyUnlessStopped, s.Restart, "service %s's restart policy", s.Name)
			hc := s.HealthCheck
			if !assert.NotNil(t, hc, "long-running service %s has no healthcheck", s.Name) {
				continue
			}
			assert.False(t, hc.Disable, "service %s's healthcheck is disabled", s.Name)
			if assert.NotEmpty(t, hc.Test, "service %s's healthcheck has no test", s.Name) {
				assert.Contains(t, []string{"CMD", "CMD-SHELL"}, hc.Test[0], "service %s's healthcheck test", s.Name)
			}
		}
	})

	t.Run("dependencies wait for health or completion", func(t *testing.T) {
		p := mustLoadCompose(t, "*")
		for _, s := range p.Services {
			for dep, d := range s.DependsOn {
				want := types.ServiceConditionHealthy
				if slices.Contains(composeOneShot, dep) {
					want = types.ServiceConditionCompletedSuccessfully
				}
				assert.Equal(t, want, d.Condition, "%s depends on %s", s.Name, dep)
			}
		}
		g, err := p.GetService("grafana")
		require.NoError(t, err)
		for _, dep := range []string{"grafana-init", "prometheus", "loki"} {
			assert.Contains(t, g.DependsOn, dep, "grafana must wait for %s", dep)
		}
	})

	t.Run("state lives in named volumes", func(t *testing.T) {
		p := mustLoadCompose(t, "*")
		for _, s := range p.Services {
			named := map[string]bool{}
			for _, v := range s.Volumes {
				if v.Type != types.VolumeTypeVolume {
					continue
				}
				if !assert.NotEmpty(t, v.Source, "service %s has an anonymous volume at %s", s.Name, v.Target) {
					continue
				}
				cfg, ok := p.Volumes[v.Source]
				if assert.True(t, ok, "service %s mounts volume %s, which is not declared", s.Name, v.Source) {
					assert.False(t, bool(cfg.External), "volume %s is external: compose would not create it", v.Source)
				}
				named[v.Target] = true
			}
			for _, target := range composeState[s.Name] {
				assert.True(t, named[target], "service %s keeps state in %s, which is not a named volume", s.Name, target)
			}
		}
		for name := range composeState {
			_, err := p.GetService(name)
			assert.NoError(t, err, "service %s is missing", name)
		}
	})

	t.Run("no secret is written in the file", func(t *testing.T) {
		raw, err := os.ReadFile(filepath.Join(root, composeFilePath))
		require.NoError(t, err)
		for where, value := range composeRawEnvironment(t, raw) {
			key := where[strings.LastIndex(where, ".")+1:]
			if !composeSecretKey.MatchString(key) || strings.HasSuffix(key, "__FILE") {
				continue
			}
			if want, ok := composeNotSecret[key]; ok {
				assert.Equal(t, want, value, "%s is a switch, not a secret", where)
				continue
			}
			assert.Regexp(t, composeEnvReference, value,
				"%s is set to a literal; a secret must be a ${VARIABLE} reference with an empty default", where)
		}
		if token := regexp.MustCompile(`hf_[A-Za-z0-9]{20,}`).FindString(string(raw)); token != "" {
			t.Errorf("%s holds a Hugging Face token (%s...)", composeFilePath, token[:6])
		}

		p := mustLoadCompose(t, "*")
		g, err := p.GetService("grafana")
		require.NoError(t, err)
		_, literal := g.Environment["GF_SECURITY_ADMIN_PASSWORD"]
		assert.False(t, literal, "Grafana's admin password must come from a file (GF_SECURITY_ADMIN_PASSWORD__FILE), not GF_SECURITY_ADMIN_PASSWORD")
		file := g.Environment["GF_SECURITY_ADMIN_PASSWORD__FILE"]
		if !assert.NotNil(t, file, "Grafana has no GF_SECURITY_ADMIN_PASSWORD__FILE") {
			return
		}
		// The file must lie on the volume grafana-init writes the password to.
		mount := slices.IndexFunc(g.Volumes, func(v types.ServiceVolumeConfig) bool {
			return v.Type == types.VolumeTypeVolume && strings.HasPrefix(*file, v.Target+"/")
		})
		if !assert.GreaterOrEqual(t, mount, 0, "Grafana's password file %s is on no volume", *file) {
			return
		}
		assert.True(t, g.Volumes[mount].ReadOnly, "Grafana should mount the password volume read-only")
		init, err := p.GetService("grafana-init")
		require.NoError(t, err)
		assert.True(t, slices.ContainsFunc(init.Volumes, func(v types.ServiceVolumeConfig) bool {
			return v.Source == g.Volumes[mount].Source
		}), "grafana-init does not mount volume %s, where Grafana reads the password", g.Volumes[mount].Source)
		pw := init.Environment["GRAFANA_ADMIN_PASSWORD"]
		if assert.NotNil(t, pw, "grafana-init does not take GRAFANA_ADMIN_PASSWORD from the environment") {
			assert.Empty(t, *pw, "GRAFANA_ADMIN_PASSWORD has a default in %s", composeFilePath)
		}
	})

	t.Run("Grafana loads the plugin, provisioning and dashboards", func(t *testing.T) {
		var plugin struct {
			ID string `json:"id"`
		}
		b, err := os.ReadFile(filepath.Join(root, pluginJSONPath))
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(b, &plugin))
		p := mustLoadCompose(t, "*")
		g, err := p.GetService("grafana")
		require.NoError(t, err)
		allowed := g.Environment["GF_PLUGINS_ALLOW_LOADING_UNSIGNED_PLUGINS"]
		if assert.NotNil(t, allowed, "Grafana does not allow the unsigned plugin") {
			assert.Contains(t, strings.Split(*allowed, ","), plugin.ID, "GF_PLUGINS_ALLOW_LOADING_UNSIGNED_PLUGINS does not name the plugin")
		}
		assert.Contains(t, g.Environment, "ALERT_WEBHOOK_URL", "the contact point's URL is not passed to Grafana")
		if url := g.Environment["ALERT_WEBHOOK_URL"]; url != nil {
			assert.Equal(t, "https://alerts.example.com/hook", *url, "ALERT_WEBHOOK_URL is not the user's")
		}
		binds := map[string]types.ServiceVolumeConfig{}
		for _, v := range g.Volumes {
			binds[v.Target] = v
		}
		for target, source := range map[string]string{
			"/etc/grafana/provisioning":   "provisioning/grafana",
			"/var/lib/grafana/dashboards": "dashboards",
		} {
			v, ok := binds[target]
			if assert.True(t, ok, "Grafana does not mount ./%s at %s", source, target) {
				assert.Equal(t, filepath.Join(root, source), v.Source, "Grafana's %s", target)
				assert.True(t, v.ReadOnly, "Grafana should mount %s read-only", target)
			}
		}
		assert.Equal(t, "grafana", g.Build.Target, "Grafana's image is the Dockerfile's grafana target (with the plugin)")
	})

	t.Run("Grafana's provisioning has every directory Grafana reads, each kept by git", func(t *testing.T) {
		// A missing provisioning/plugins/ makes Grafana log an error at
		// every start; git keeps a directory only with a file in it.
		for _, dir := range []string{"datasources", "dashboards", "alerting", "plugins"} {
			entries, err := os.ReadDir(filepath.Join(root, "provisioning", "grafana", dir))
			if assert.NoError(t, err, "provisioning/grafana/%s is missing", dir) {
				files := slices.ContainsFunc(entries, func(e os.DirEntry) bool { return e.Type().IsRegular() })
				assert.True(t, files, "provisioning/grafana/%s holds no file: git would not keep it", dir)
			}
		}
	})

	t.Run("the GPU exporter polls a Batch API only when BATCH_ENDPOINT is set, the demo's polls the simulator's unless it is set (empty: none)", func(t *testing.T) {
		p := mustLoadCompose(t, "*")
		s, err := p.GetService("exporter")
		require.NoError(t, err)
		for _, arg := range s.Command {
			assert.NotContains(t, arg, "batch", "exporter: a batch flag without BATCH_ENDPOINT: %q", s.Command)
			assert.NotEmpty(t, arg, "exporter: an empty argument without BATCH_ENDPOINT: %q", s.Command)
		}
		assert.Contains(t, s.ExtraHosts["host.docker.internal"], "host-gateway",
			"exporter: host.docker.internal must reach a Batch API server on the host")
		s, err = p.GetService("exporter-sim")
		require.NoError(t, err)
		assert.Contains(t, []string(s.Command), "--batch.endpoint=http://vllm:8000",
			"exporter-sim: without BATCH_ENDPOINT it polls the simulator (host vllm, port 8000)")
		for _, svc := range []string{"exporter", "exporter-sim"} {
			p = mustLoadCompose(t, "*", "BATCH_ENDPOINT=http://batch.example.com:8000")
			s, err = p.GetService(svc)
			require.NoError(t, err)
			assert.Contains(t, []string(s.Command), "--batch.endpoint=http://batch.example.com:8000", svc)
			if key := s.Environment["BATCH_API_KEY"]; assert.NotNil(t, key, "%s: BATCH_API_KEY is not passed on", svc) {
				assert.Empty(t, *key, "%s: BATCH_API_KEY has a default", svc)
			}
		}
		// Set empty, BATCH_ENDPOINT switches the demo's polling off: the
		// exporter reads an empty --batch.endpoint= as no endpoint
		// (TestEmptyBatchEndpointMeansNoBatchCollector).
		p = mustLoadCompose(t, "*", "BATCH_ENDPOINT=")
		s, err = p.GetService("exporter-sim")
		require.NoError(t, err)
		assert.Equal(t, []string{"--nvml.simulate=dgxh100", "--batch.endpoint="}, []string(s.Command),
			"exporter-sim: BATCH_ENDPOINT set empty names no endpoint")
		s, err = p.GetService("exporter")
		require.NoError(t, err)
		for _, arg := range s.Command {
			assert.NotContains(t, arg, "batch", "exporter: a batch flag with BATCH_ENDPOINT empty: %q", s.Command)
		}
		raw, err := os.ReadFile(filepath.Join(root, composeFilePath))
		require.NoError(t, err)
		assert.Regexp(t, `(?m)^#\s+BATCH_ENDPOINT\s`, string(raw), "BATCH_ENDPOINT is not documented in the file's header")
		assert.Contains(t, string(raw), "BATCH_ENDPOINT=)", "the header says how to switch the demo's batch polling off")
		assert.Contains(t, string(raw), "BATCH_ENDPOINT=http://host.docker.internal:4081",
			"the header shows how to point the exporter at a Batch API server on the host")
	})

	t.Run("Label Studio's admin and API token come from the environment", func(t *testing.T) {
		vars := []string{"LABEL_STUDIO_USERNAME", "LABEL_STUDIO_PASSWORD", "LABEL_STUDIO_USER_TOKEN"}
		p := mustLoadCompose(t, "labelstudio")
		s, err := p.GetService("label-studio")
		require.NoError(t, err)
		for _, v := range vars {
			if val := s.Environment[v]; assert.NotNil(t, val, "label-studio does not take %s from the environment", v) {
				assert.Empty(t, *val, "%s has a default in %s", v, composeFilePath)
			}
		}
		if v := s.Environment["LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN"]; assert.NotNil(t, v, "the admin token could not authenticate") {
			assert.Equal(t, "true", *v)
		}
		p = mustLoadCompose(t, "labelstudio", "LABEL_STUDIO_USERNAME=admin@example.com",
			"LABEL_STUDIO_PASSWORD=pw-from-the-users-environment", "LABEL_STUDIO_USER_TOKEN=token-from-the-users-environment")
		s, err = p.GetService("label-studio")
		require.NoError(t, err)
		for v, want := range map[string]string{"LABEL_STUDIO_USERNAME": "admin@example.com",
			"LABEL_STUDIO_PASSWORD": "pw-from-the-users-environment", "LABEL_STUDIO_USER_TOKEN": "token-from-the-users-environment"} {
			if val := s.Environment[v]; assert.NotNil(t, val, v) {
				assert.Equal(t, want, *val, "%s is not the user's", v)
			}
		}
		raw, err := os.ReadFile(filepath.Join(root, composeFilePath))
		require.NoError(t, err)
		for _, v := range vars {
			assert.Regexp(t, `(?m)^#\s+`+v+`\s`, string(raw), "%s is not documented in the file's header", v)
		}
	})

	t.Run("every build target is a stage of the Dockerfile", func(t *testing.T) {
		b, err := os.ReadFile(filepath.Join(root, composeDockerfile))
		require.NoError(t, err)
		stages := map[string]bool{}
		for _, m := range regexp.MustCompile(`(?im)^FROM\s+\S+\s+AS\s+(\S+)\s*$`).FindAllStringSubmatch(string(b), -1) {
			stages[strings.ToLower(m[1])] = true
		}
		for _, want := range []string{"exporter", "bencher", "grafana"} {
			assert.True(t, stages[want], "the Dockerfile has no %q target", want)
		}
		p := mustLoadCompose(t, "*")
		for _, s := range p.Services {
			if s.Build != nil {
				assert.True(t, stages[s.Build.Target], "service %s builds target %q, which the Dockerfile lacks", s.Name, s.Build.Target)
			}
		}
	})
}

// composeNotSecret are the variables whose names look like secrets but
// which are switches, with the one value the file may give them.
var composeNotSecret = map[string]string{
	// Lets Label Studio's admin token (LABEL_STUDIO_USER_TOKEN, from the
	// environment) authenticate as "Authorization: Token ...".
	"LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
}

// composeSecretKey matches environment variables that hold secrets.
var composeSecretKey = regexp.MustCompile(`(?i)(PASSWORD|PASSWD|TOKEN|SECRET|API_?KEY|CREDENTIAL)`)

// composeEnvReference is a value taken whole from the user's environment,
// with no default other than empty: ${VAR}, ${VAR:-} or ${VAR-}.
var composeEnvReference = regexp.MustCompile(`^\$\{[A-Za-z_][A-Za-z0-9_]*(:?-)?\}$`)

// composeRawEnvironment returns every environment entry of every service of
// a compose file as written, before interpolation, keyed
// "services.NAME.environment.KEY".
func composeRawEnvironment(t testing.TB, raw []byte) map[string]string {
	t.Helper()
	var doc struct {
		Services map[string]struct {
			Environment any `yaml:"environment"`
		} `yaml:"services"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &doc))
	out := map[string]string{}
	for name, s := range doc.Services {
		prefix := "services." + name + ".environment."
		switch env := s.Environment.(type) {
		case map[string]any:
			for k, v := range env {
				out[prefix+k] = fmt.Sprint(v)
			}
		case []any:
			for _, e := range env {
				k, v, _ := strings.Cut(fmt.Sprint(e), "=")
				out[prefix+k] = v
			}
		case nil:
		default:
			t.Errorf("service %s: environment of type %T", name, env)
		}
	}
	return out
}

func TestComposeLokiConfig(t *testing.T) {
	root := composeRepoRoot(t)
	b, err := os.ReadFile(filepath.Join(root, lokiConfigPath))
	require.NoError(t, err)
	var cfg struct {
		AuthEnabled *bool `yaml:"auth_enabled"`
		Server      struct {
			HTTPListenPort int `yaml:"http_listen_port"`
		} `yaml:"server"`
		Common struct {
			PathPrefix string `yaml:"path_prefix"`
		} `yaml:"common"`
		SchemaConfig struct {
			Configs []struct {
				Store       string `yaml:"store"`
				ObjectStore string `yaml:"object_store"`
				Schema      string `yaml:"schema"`
				Index       struct {
					Period string `yaml:"period"`
				} `yaml:"index"`
			} `yaml:"configs"`
		} `yaml:"schema_config"`
		Compactor struct {
			RetentionEnabled   bool   `yaml:"retention_enabled"`
			DeleteRequestStore string `yaml:"delete_request_store"`
			WorkingDirectory   string `yaml:"working_directory"`
		} `yaml:"compactor"`
		Limits struct {
			RetentionPeriod string `yaml:"retention_period"`
		} `yaml:"limits_config"`
	}
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	require.NoError(t, dec.Decode(&cfg), "%s is not YAML", lokiConfigPath)

	t.Run("single binary on the filesystem, in the loki volume", func(t *testing.T) {
		if assert.NotNil(t, cfg.AuthEnabled, "auth_enabled is not set") {
			assert.False(t, *cfg.AuthEnabled, "one tenant: auth_enabled must be false")
		}
		assert.Equal(t, 3100, cfg.Server.HTTPListenPort, "Loki's HTTP port (compose publishes 4021 -> 3100)")
		p := mustLoadCompose(t, "*")
		loki, err := p.GetService("loki")
		require.NoError(t, err)
		assert.True(t, slices.ContainsFunc(loki.Volumes, func(v types.ServiceVolumeConfig) bool {
			return v.Type == types.VolumeTypeVolume && v.Target == cfg.Common.PathPrefix
		}), "Loki keeps its data in %q, which is not the loki volume's mount point", cfg.Common.PathPrefix)
		assert.Contains(t, loki.Command, "-config.file=/etc/loki/loki.yaml", "Loki must run with the repository's configuration")
		if assert.NotEmpty(t, cfg.SchemaConfig.Configs, "no schema_config") {
			last := cfg.SchemaConfig.Configs[len(cfg.SchemaConfig.Configs)-1]
			assert.Equal(t, "tsdb", last.Store)
			assert.Equal(t, "filesystem", last.ObjectStore)
			assert.Equal(t, "v13", last.Schema)
			assert.Equal(t, "24h", last.Index.Period, "retention needs a 24h index period")
		}
	})

	t.Run("the compactor applies 15 days of retention", func(t *testing.T) {
		assert.True(t, cfg.Compactor.RetentionEnabled, "compactor.retention_enabled")
		assert.Equal(t, "filesystem", cfg.Compactor.DeleteRequestStore, "compactor.delete_request_store is required with retention")
		assert.True(t, strings.HasPrefix(cfg.Compactor.WorkingDirectory, cfg.Common.PathPrefix+"/"), "the compactor's working directory must be in the volume")
		assert.Contains(t, []string{"15d", "360h"}, cfg.Limits.RetentionPeriod, "limits_config.retention_period")
	})
}

func TestComposeAlloyConfig(t *testing.T) {
	root := composeRepoRoot(t)
	src, err := os.ReadFile(filepath.Join(root, alloyConfigPath))
	require.NoError(t, err)

	t.Run("parses with Alloy's own parser", func(t *testing.T) {
		// github.com/grafana/alloy/syntax is a module of its own, but the module
		// proxy here does not serve it. Once it is in go.mod, replace this skip with
		//   _, err := parser.ParseFile(alloyConfigPath, src) // github.com/grafana/alloy/syntax/parser
		//   require.NoError(t, err)
		t.Skip("github.com/grafana/alloy/syntax is not available; the checks below use a parser of the subset of the syntax")
	})

	var blocks []alloyBlock
	t.Run("the syntax parses", func(t *testing.T) {
		blocks, err = parseAlloy(string(src))
		require.NoError(t, err, "%s", alloyConfigPath)
	})
	if len(blocks) == 0 {
		t.Fatalf("%s has no blocks", alloyConfigPath)
	}

	t.Run("every component reference is declared", func(t *testing.T) {
		declared := map[string]bool{}
		for _, b := range blocks {
			declared[b.Name+"."+b.Label] = true
		}
		namespaces := map[string]bool{}
		for _, b := range blocks {
			namespaces[strings.Split(b.Name, ".")[0]] = true
		}
		for _, b := range blocks {
			for _, ref := range b.Refs {
				parts := strings.Split(ref, ".")
				if !namespaces[parts[0]] {
					continue // a standard library name, such as sys.env
				}
				assert.True(t, len(parts) >= 3 && declared[strings.Join(parts[:len(parts)-1], ".")],
					"%s %q refers to %s, which is not declared", b.Name, b.Label, ref)
			}
		}
	})

	t.Run("the old workstation's log streams keep their job labels", func(t *testing.T) {
		checkOldLogJobs(t, blocks)
	})

	t.Run("container logs go from the Docker socket to Loki", func(t *testing.T) {
		find := func(name string) *alloyBlock {
			for i := range blocks {
				if blocks[i].Name == name {
					return &blocks[i]
				}
			}
			t.Errorf("%s declares no %s", alloyConfigPath, name)
			return nil
		}
		p := mustLoadCompose(t, "*")
		alloy, err := p.GetService("alloy")
		require.NoError(t, err)
		for _, name := range []string{"discovery.docker", "loki.source.docker"} {
			if b := find(name); b != nil {
				host := b.Attrs["host"]
				assert.True(t, strings.HasPrefix(host, `"unix://`), "%s host %s is not a unix socket", name, host)
				socket := strings.TrimSuffix(strings.TrimPrefix(host, `"unix://`), `"`)
				assert.True(t, slices.ContainsFunc(alloy.Volumes, func(v types.ServiceVolumeConfig) bool {
					return v.Target == socket && v.ReadOnly
				}), "the alloy service does not mount the Docker socket read-only at %s", socket)
			}
		}
		if b := find("loki.source.docker"); b != nil {
			assert.Contains(t, b.Refs, "discovery.docker."+find("discovery.docker").Label+".targets", "loki.source.docker does not read the discovered containers")
			assert.Contains(t, b.Attrs["relabel_rules"], "discovery.relabel.", "loki.source.docker does not relabel")
		}
		if b := find("discovery.relabel"); b != nil {
			var labels []string
			for _, rule := range b.Children {
				labels = append(labels, strings.Trim(rule.Attrs["target_label"], `"`))
			}
			for _, label := range []string{"container", "compose_service"} {
				assert.Contains(t, labels, label, "discovery.relabel does not set the %s label", label)
			}
		}
		if b := find("loki.write"); b != nil {
			var urls []string
			for _, endpoint := range b.Children {
				urls = append(urls, endpoint.Attrs["url"])
			}
			assert.Equal(t, []string{`"http://loki:3100/loki/api/v1/push"`}, urls, "loki.write must push to the loki service")
		}
		assert.Contains(t, alloy.Command, "/etc/alloy/config.alloy", "alloy does not run the repository's configuration")
		assert.True(t, slices.ContainsFunc(alloy.Volumes, func(v types.ServiceVolumeConfig) bool {
			return v.Source == filepath.Join(root, filepath.Dir(alloyConfigPath)) && v.Target == "/etc/alloy"
		}), "alloy does not mount ./%s at /etc/alloy", filepath.Dir(alloyConfigPath))
	})
}

// alloyBlock is a top-level block of an Alloy configuration: a component
// such as `loki.write "local" { ... }`.
type alloyBlock struct {
	Name, Label string
	// Attrs holds the block's own attributes as source text.
	Attrs map[string]string
	// Children are the blocks inside, such as a relabel rule.
	Children []alloyBlock
	// Refs are the dotted names the block's expressions refer to.
	Refs []string
}

// parseAlloy parses the Alloy configuration syntax: blocks (with an
// optional label), attributes, and expressions of literals, lists,
// objects, references, calls, indexing and operators. It returns the
// top-level blocks.
func parseAlloy(src string) ([]alloyBlock, error) {
	toks, err := lexAlloy(src)
	if err != nil {
		return nil, err
	}
	p := &alloyParser{src: src, toks: toks}
	var blocks []alloyBlock
	for !p.at(alloyEOF, "") {
		start := p.pos
		b, isBlock, err := p.statement()
		if err != nil {
			return nil, err
		}
		if !isBlock {
			return nil, fmt.Errorf("line %d: top-level attribute; only blocks belong at the top", toks[start].line)
		}
		blocks = append(blocks, b)
	}
	return blocks, nil
}

type alloyTokKind int

const (
	alloyEOF alloyTokKind = iota
	alloyIdent
	alloyString
	alloyNumber
	alloyPunct
)

type alloyTok struct {
	kind       alloyTokKind
	text       string
	line       int
	start, end int
}

// lexAlloy splits src into tokens, dropping comments.
func lexAlloy(src string) ([]alloyTok, error) {
	var toks []alloyTok
	line := 1
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '\n':
			line++
			i++
		case c == ' ' || c == '\t' || c == '\r':
			i++
		case strings.HasPrefix(src[i:], "//"):
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case strings.HasPrefix(src[i:], "/*"):
			end := strings.Index(src[i+2:], "*/")
			if end < 0 {
				return nil, fmt.Errorf("line %d: unterminated comment", line)
			}
			line += strings.Count(src[i:i+2+end], "\n")
			i += end + 4
		case c == '"':
			j := i + 1
			for ; j < len(src) && src[j] != '"'; j++ {
				if src[j] == '\\' {
					j++
				} else if src[j] == '\n' {
					return nil, fmt.Errorf("line %d: newline in string", line)
				}
			}
			if j >= len(src) {
				return nil, fmt.Errorf("line %d: unterminated string", line)
			}
			toks = append(toks, alloyTok{alloyString, src[i : j+1], line, i, j + 1})
			i = j + 1
		case c == '`':
			end := strings.IndexByte(src[i+1:], '`')
			if end < 0 {
				return nil, fmt.Errorf("line %d: unterminated raw string", line)
			}
			toks = append(toks, alloyTok{alloyString, src[i : i+end+2], line, i, i + end + 2})
			line += strings.Count(src[i:i+end+2], "\n")
			i += end + 2
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			j := i + 1
			for j < len(src) && (src[j] == '_' || src[j] >= 'a' && src[j] <= 'z' || src[j] >= 'A' && src[j] <= 'Z' || src[j] >= '0' && src[j] <= '9') {
				j++
			}
			toks = append(toks, alloyTok{alloyIdent, src[i:j], line, i, j})
			i = j
		case c >= '0' && c <= '9':
			j := i + 1
			for j < len(src) && (src[j] >= '0' && src[j] <= '9' || src[j] == '.' || src[j] == 'e' || src[j] == 'E') {
				j++
			}
			toks = append(toks, alloyTok{alloyNumber, src[i:j], line, i, j})
			i = j
		default:
			n := 1
			for _, op := range []string{"==", "!=", "<=", ">=", "&&", "||"} {
				if strings.HasPrefix(src[i:], op) {
					n = 2
				}
			}
			if n == 1 && !strings.ContainsRune("{}[](),.=:+-*/%^<>!", rune(c)) {
				return nil, fmt.Errorf("line %d: unexpected character %q", line, c)
			}
			toks = append(toks, alloyTok{alloyPunct, src[i : i+n], line, i, i + n})
			i += n
		}
	}
	return append(toks, alloyTok{kind: alloyEOF, line: line, start: len(src), end: len(src)}), nil
}

type alloyParser struct {
	src  string
	toks []alloyTok
	pos  int
	refs []string
}

func (p *alloyParser) peek() alloyTok { return p.toks[p.pos] }

func (p *alloyParser) at(kind alloyTokKind, text string) bool {
	t := p.peek()
	return t.kind == kind && (text == "" || t.text == text)
}

func (p *alloyParser) expect(kind alloyTokKind, text string) (alloyTok, error) {
	t := p.peek()
	if !p.at(kind, text) {
		want := text
		if want == "" {
			want = [...]string{"end of file", "a name", "a string", "a number", "punctuation"}[kind]
		}
		got := t.text
		if t.kind == alloyEOF {
			got = "end of file"
		}
		return t, fmt.Errorf("line %d: expected %s, found %q", t.line, want, got)
	}
	p.pos++
	return t, nil
}

// statement parses `name = expr` or `name.name "label" { ... }`.
func (p *alloyParser) statement() (alloyBlock, bool, error) {
	first, err := p.expect(alloyIdent, "")
	if err != nil {
		return alloyBlock{}, false, err
	}
	if p.at(alloyPunct, "=") {
		p.pos++
		return alloyBlock{}, false, p.expr()
	}
	name := first.text
	for p.at(alloyPunct, ".") {
		p.pos++
		t, err := p.expect(alloyIdent, "")
		if err != nil {
			return alloyBlock{}, false, err
		}
		name += "." + t.text
	}
	b := alloyBlock{Name: name, Attrs: map[string]string{}}
	if p.at(alloyString, "") {
		b.Label = strings.Trim(p.peek().text, "\"`")
		p.pos++
	}
	open, err := p.expect(alloyPunct, "{")
	if err != nil {
		return alloyBlock{}, false, err
	}
	outer := p.refs
	p.refs = nil
	for !p.at(alloyPunct, "}") {
		if p.at(alloyEOF, "") {
			return alloyBlock{}, false, fmt.Errorf("line %d: block %s is not closed", open.line, name)
		}
		attr := p.peek()
		exprStart := p.pos + 2
		child, isBlock, err := p.statement()
		if err != nil {
			return alloyBlock{}, false, err
		}
		if !isBlock {
			b.Attrs[attr.text] = strings.TrimSpace(p.src[p.toks[exprStart].start:p.toks[p.pos-1].end])
		} else {
			p.refs = append(p.refs, child.Refs...)
			b.Children = append(b.Children, child)
		}
	}
	p.pos++
	b.Refs = p.refs
	p.refs = outer
	return b, true, nil
}

// expr parses a binary expression.
func (p *alloyParser) expr() error {
	if err := p.unary(); err != nil {
		return err
	}
	for p.at(alloyPunct, "") && strings.Contains(" == != <= >= && || + - * / % ^ < > ", " "+p.peek().text+" ") {
		p.pos++
		if err := p.unary(); err != nil {
			return err
		}
	}
	return nil
}

func (p *alloyParser) unary() error {
	if p.at(alloyPunct, "!") || p.at(alloyPunct, "-") {
		p.pos++
	}
	return p.postfix()
}

// postfix parses an operand followed by calls and indexing.
func (p *alloyParser) postfix() error {
	if err := p.operand(); err != nil {
		return err
	}
	for {
		switch {
		case p.at(alloyPunct, "("):
			p.pos++
			if err := p.list(")"); err != nil {
				return err
			}
		case p.at(alloyPunct, "["):
			p.pos++
			if err := p.expr(); err != nil {
				return err
			}
			if _, err := p.expect(alloyPunct, "]"); err != nil {
				return err
			}
		default:
			return nil
		}
	}
}

func (p *alloyParser) operand() error {
	t := p.peek()
	switch {
	case t.kind == alloyString || t.kind == alloyNumber:
		p.pos++
	case t.kind == alloyIdent:
		p.pos++
		ref := t.text
		for p.at(alloyPunct, ".") {
			p.pos++
			n, err := p.expect(alloyIdent, "")
			if err != nil {
				return err
			}
			ref += "." + n.text
		}
		if !slices.Contains([]string{"true", "false", "null"}, ref) {
			p.refs = append(p.refs, ref)
		}
	case p.at(alloyPunct, "("):
		p.pos++
		if err := p.expr(); err != nil {
			return err
		}
		_, err := p.expect(alloyPunct, ")")
		return err
	case p.at(alloyPunct, "["):
		p.pos++
		return p.list("]")
	case p.at(alloyPunct, "{"):
		p.pos++
		for !p.at(alloyPunct, "}") {
			if !p.at(alloyIdent, "") && !p.at(alloyString, "") {
				return fmt.Errorf("line %d: expected an object key, found %q", p.peek().line, p.peek().text)
			}
			p.pos++
			if !p.at(alloyPunct, "=") && !p.at(alloyPunct, ":") {
				return fmt.Errorf("line %d: expected = after an object key, found %q", p.peek().line, p.peek().text)
			}
			p.pos++
			if err := p.expr(); err != nil {
				return err
			}
			if !p.at(alloyPunct, ",") {
				break
			}
			p.pos++
		}
		_, err := p.expect(alloyPunct, "}")
		return err
	default:
		got := t.text
		if t.kind == alloyEOF {
			got = "end of file"
		}
		return fmt.Errorf("line %d: expected an expression, found %q", t.line, got)
	}
	return nil
}

// list parses comma-separated expressions up to the closing token.
func (p *alloyParser) list(closing string) error {
	for !p.at(alloyPunct, closing) {
		if err := p.expr(); err != nil {
			return err
		}
		if !p.at(alloyPunct, ",") {
			break
		}
		p.pos++
	}
	_, err := p.expect(alloyPunct, closing)
	return err
}
