#!/usr/bin/env bash
# Compares benchstation-exporter with nvidia-smi on a machine with an NVIDIA
# GPU, and times one scrape against one nvidia-smi call. Without a GPU it
# says so and exits 0. CI never runs it.
#
#   scripts/gpu-check.sh [path/to/benchstation-exporter]
#
# Values agree "within the sampling difference": the two tools read NVML at
# slightly different moments, so power and utilisation may differ by what a
# GPU changes in a fraction of a second. The tolerances are printed.
set -uo pipefail

exporter=${1:-bin/benchstation-exporter}
port=${PORT:-19849}

if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
  echo "gpu-check: no NVIDIA GPU here (nvidia-smi missing or failing); nothing to compare."
  exit 0
fi
if [ ! -x "$exporter" ]; then
  echo "gpu-check: $exporter not found; build it with 'go tool mage build'" >&2
  exit 2
fi

log=$(mktemp)
# EXPORTER_ARGS: extra flags, e.g. --nvml.simulate=dgxa100 to try the script without a GPU.
# shellcheck disable=SC2086
"$exporter" --web.listen-address="127.0.0.1:$port" ${EXPORTER_ARGS:-} >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$log" "$metrics" "$smi"' EXIT
metrics=$(mktemp)
smi=$(mktemp)
for _ in $(seq 50); do
  curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done

nvidia-smi -L
nvidia-smi --query-gpu=driver_version,name --format=csv,noheader | head -1

# Warm-up scrape (NVML initialisation, first-call costs), then the timed ones
# taken as close together as possible.
curl -fs "http://127.0.0.1:$port/metrics" >/dev/null
scrape_s=$(curl -fs -o "$metrics" -w '%{time_total}' "http://127.0.0.1:$port/metrics")
t1=$(date +%s%N)
nvidia-smi --query-gpu=index,temperature.gpu,memory.used,power.draw,utilization.gpu,clocks.sm --format=csv,noheader,nounits >"$smi"
t2=$(date +%s%N)
echo "one scrape (HTTP request to last byte, curl time_total): $(awk -v s="$scrape_s" 'BEGIN{printf "%.0f", s*1e6}') µs"
echo "one nvidia-smi query (process start to exit): $(( (t2 - t1) / 1000 )) µs"

grep -q '^nvidia_gpu_nvml_up 1' "$metrics" || { echo "exporter reports NVML down:"; cat "$log"; exit 1; }

awk -F', *' -v metrics="$metrics" '
function val(name, gpu, extra,   key) {
  key = name "{" extra "gpu=\"" gpu "\""
  return (key in m) ? m[key] : "absent"
}
BEGIN {
  while ((getline line < metrics) > 0) {
    if (line ~ /^#/) continue
    split(line, parts, " ")
    series = parts[1]; v = parts[2]
    # key by metric name plus the labels up to and including gpu="N"
    if (match(series, /gpu="[0-9]+"/)) m[substr(series, 1, RSTART + RLENGTH - 1)] = v
  }
  printf "%-4s %-22s %12s %12s %10s  %s\n", "gpu", "reading", "nvidia-smi", "exporter", "tolerance", "verdict"
  bad = 0
}
function check(gpu, what, smi, got, tol,   ok, d) {
  if (got == "absent" || smi ~ /N\/A|Not Supported/) { printf "%-4s %-22s %12s %12s %10s  %s\n", gpu, what, smi, got, tol, "n/a"; return }
  d = smi - got; if (d < 0) d = -d
  ok = (d <= tol)
  if (!ok) bad++
  printf "%-4s %-22s %12.1f %12.1f %10.1f  %s\n", gpu, what, smi, got, tol, ok ? "ok" : "DIFFERS"
}
{
  g = $1
  check(g, "temperature (C)", $2, val("nvidia_gpu_temperature_celsius", g, ""), 2)
  check(g, "memory used (MiB)", $3, val("nvidia_gpu_memory_used_bytes", g, "") / 1048576, 64 + $3 * 0.01)
  check(g, "power draw (W)", $4, val("nvidia_gpu_power_draw_watts", g, ""), 10 + $4 * 0.15)
  check(g, "utilisation (%)", $5, val("nvidia_gpu_utilization_ratio", g, "") * 100, 15)
  check(g, "SM clock (MHz)", $6, val("nvidia_gpu_clock_hertz", g, "clock=\"sm\",") / 1e6, 100)
}
END { if (bad) { print bad " reading(s) differ beyond tolerance"; exit 1 } else print "all readings agree within tolerance" }
' "$smi"
