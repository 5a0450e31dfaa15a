{{/* The chart's name, 63 characters at most (a DNS label). */}}
{{- define "benchstation.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's full name: the prefix of every object's name. */}}
{{- define "benchstation.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* The labels that select a component's pods: call with (list $ "component"). */}}
{{- define "benchstation.selectorLabels" -}}
{{- $ := index . 0 -}}
app.kubernetes.io/name: {{ include "benchstation.name" $ }}
app.kubernetes.io/instance: {{ $.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{/* Kubernetes's recommended labels of a component's objects: call with (list $ "component"). */}}
{{- define "benchstation.labels" -}}
{{- $ := index . 0 -}}
helm.sh/chart: {{ printf "%s-%s" $.Chart.Name $.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "benchstation.selectorLabels" . }}
app.kubernetes.io/version: {{ $.Chart.AppVersion | quote }}
app.kubernetes.io/part-of: benchstation
app.kubernetes.io/managed-by: {{ $.Release.Service }}
{{- with $.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* An image reference: call with (list $ .Values.<component>.image). */}}
{{- define "benchstation.image" -}}
{{- $ := index . 0 -}}
{{- $img := index . 1 -}}
{{- printf "%s:%s" $img.repository (default $.Chart.AppVersion $img.tag) }}
{{- end }}

{{/* The exporter's objects' name. */}}
{{- define "benchstation.exporter.fullname" -}}
{{- printf "%s-exporter" (include "benchstation.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The bencher Jobs' name: the release, "bencher" and the run. */}}
{{- define "benchstation.bencher.fullname" -}}
{{- printf "%s-bencher-%s" (include "benchstation.fullname" .) .Values.bencher.run | trunc 52 | trimSuffix "-" }}
{{- end }}

{{/* The batch endpoints' config file (exporter/batch/file.go's format).
  Each URL is checked as the exporter does (batch.NewEndpoint), and the
  message never quotes it: a URL may carry a key. */}}
{{- define "benchstation.exporter.batchConfig" -}}
endpoints:
{{- range $i, $ep := .Values.exporter.batch.endpoints }}
{{- $u := urlParse $ep.url }}
{{- $where := printf "exporter.batch.endpoints[%d].url" $i }}
{{- if not (has $u.scheme (list "http" "https")) }}
{{- fail (printf "%s: the scheme must be http or https" $where) }}
{{- else if not $u.host }}
{{- fail (printf "%s: no host" $where) }}
{{- else if $u.userinfo }}
{{- fail (printf "%s: user information is not allowed: give the key as apiKey.existingSecret" $where) }}
{{- else if or $u.query $u.fragment (contains "?" $ep.url) }}
{{- fail (printf "%s: a query or fragment is not allowed" $where) }}
{{- end }}
  - name: {{ $ep.name | quote }}
    url: {{ $ep.url | quote }}
    {{- with $ep.apiKey }}
    {{- if eq (default "file" .mountAs) "env" }}
    api_key_env: {{ printf "BATCH_API_KEY_%d" $i }}
    {{- else }}
    api_key_file: {{ printf "/etc/benchstation/batch-keys/%d/api-key" $i }}
    {{- end }}
    {{- end }}
{{- end }}
{{- end }}
