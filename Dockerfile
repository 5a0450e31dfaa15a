# syntax=docker/dockerfile:1
#
# Benchstation images, one target each (docker-compose.yml builds them):
#   exporter  benchstation-exporter (cgo: go-nvml dlopens libnvidia-ml.so.1 at run time)
#   bencher   the bencher CLI and its vLLM simulator (static, no cgo)
#   grafana   the official Grafana image with the bencher datasource plugin installed
#
#   docker build --target exporter -t benchstation/exporter:local .

ARG GO_IMAGE=golang:1.26-trixie
# Node 24 (LTS): .nvmrc names the same major; the local build also works on Node 20 and 22.
ARG NODE_IMAGE=node:24-trixie-slim
# The Grafana the end-to-end suite tests (go tool mage e2e); plugin.json's
# grafanaDependency and the @grafana/* packages are of the same minor release.
ARG GRAFANA_IMAGE=grafana/grafana:12.4.0
ARG BUSYBOX_IMAGE=busybox:1.36.1-musl
# The exporter is linked against the builder's glibc: keep the same Debian release.
ARG EXPORTER_BASE_IMAGE=debian:trixie-slim
ARG STATIC_BASE_IMAGE=gcr.io/distroless/static-debian12:nonroot

# A static busybox, copied into the runtime images for their health checks (wget).
FROM ${BUSYBOX_IMAGE} AS busybox

# ------------------------------------------------------------------ Go sources
FROM ${GO_IMAGE} AS go-src
WORKDIR /src
# go.mod may name a newer patch release than the image has.
ENV GOTOOLCHAIN=auto
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
# The version the three programs report (--version, build_info, run
# documents): the build context has no .git, so Go's build information
# cannot tell it. docker compose passes $BENCHSTATION_VERSION, e.g.
#   BENCHSTATION_VERSION=$(git describe --tags --always --dirty) docker compose build
ARG BENCHSTATION_VERSION=
ENV GO_LDFLAGS="-s -w -X github.com/benchstation/benchstation/internal/buildinfo.version=${BENCHSTATION_VERSION}"

FROM go-src AS exporter-build
# go-nvml is cgo; the warning flags are the ones Mage.go uses.
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=1 CGO_CFLAGS="-O2 -g -Wno-deprecated-declarations" \
    go build -trimpath -ldflags "$GO_LDFLAGS" -o /out/benchstation-exporter ./exporter/cmd/benchstation-exporter

FROM go-src AS bencher-build
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -ldflags "$GO_LDFLAGS" -o /out/bencher ./bencher/cmd/bencher
# The image's /results, copied in with Grafana's user as owner (below).
RUN mkdir -p /out/results && chmod 0770 /out/results

FROM go-src AS plugin-backend
ARG TARGETARCH
# The executable name Grafana looks for: plugin.json's "executable" plus _linux_<arch>.
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=linux GOARCH=${TARGETARCH:-amd64} \
    go build -trimpath -ldflags "$GO_LDFLAGS" -o /out/gpx_bencher_linux_${TARGETARCH:-amd64} ./grafana-plugin/pkg

# ------------------------------------------------------------- plugin frontend
FROM ${NODE_IMAGE} AS plugin-frontend
WORKDIR /src/grafana-plugin
COPY grafana-plugin/package.json grafana-plugin/package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund
COPY grafana-plugin/ ./
# webpack writes dist/: module.js, plugin.json, img/, README, LICENSE, CHANGELOG.
RUN npm run build

# --------------------------------------------------------------------- exporter
FROM ${EXPORTER_BASE_IMAGE} AS exporter
COPY --from=busybox /bin/busybox /usr/local/bin/busybox
COPY --from=exporter-build /out/benchstation-exporter /usr/local/bin/benchstation-exporter
# The NVIDIA container toolkit mounts libnvidia-ml.so.1 in (capability "utility").
ENV NVIDIA_DRIVER_CAPABILITIES=utility
# Not root: NVML needs only the /dev/nvidia* nodes, which the toolkit creates
# world-readable and writable, and process names come from /proc/PID/comm,
# which every user may read. On a host that mounts /proc with hidepid=1 or 2,
# only root sees other users' processes: run the container as root there
# (`user: "0"` in docker-compose.yml), or the names read "unknown".
USER 65532:65532
EXPOSE 9849
ENTRYPOINT ["/usr/local/bin/benchstation-exporter"]

# ---------------------------------------------------------------------- bencher
FROM ${STATIC_BASE_IMAGE} AS bencher
COPY --from=busybox /bin/busybox /usr/local/bin/busybox
COPY --from=bencher-build /out/bencher /usr/local/bin/bencher
# /results belongs to Grafana's user (472), who runs the bencher in compose
# and whose plugin reads and writes the same volume: Docker gives an empty
# named volume the owner and mode of the image's directory it is mounted on,
# and a WORKDIR alone would be the base image's nonroot user's (65532).
COPY --from=bencher-build --chown=472:0 /out/results /results
WORKDIR /results
EXPOSE 8000 9850
ENTRYPOINT ["/usr/local/bin/bencher"]
CMD ["--help"]

# ---------------------------------------------------------------------- grafana
FROM ${GRAFANA_IMAGE} AS grafana
ARG TARGETARCH
# Plugins live in the image, not under /var/lib/grafana: that is a named
# volume, and a volume keeps the plugin of the image it was first created
# from, so a rebuilt image would go on running the old plugin.
ENV GF_PATHS_PLUGINS=/opt/grafana-plugins \
    GF_PLUGINS_ALLOW_LOADING_UNSIGNED_PLUGINS=benchstation-bencher-datasource
COPY --from=busybox /bin/busybox /usr/local/bin/busybox
COPY --from=plugin-frontend /src/grafana-plugin/dist/ /opt/grafana-plugins/benchstation-bencher-datasource/
COPY --from=plugin-backend /out/ /opt/grafana-plugins/benchstation-bencher-datasource/
USER root
# The results directory the plugin reads (its resultsDir), owned by Grafana's
# user so that a fresh named volume mounted there inherits the ownership.
# The plugins directory is Grafana's too: Grafana installs its preinstalled
# plugins (GF_PLUGINS_PREINSTALL) there at start; the bencher plugin stays root's.
RUN mkdir -p /var/lib/grafana/benchstation-results \
    && chown 472:0 /var/lib/grafana/benchstation-results /opt/grafana-plugins \
    && chmod 0755 /opt/grafana-plugins/benchstation-bencher-datasource/gpx_bencher_linux_*
USER 472
