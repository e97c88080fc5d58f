{{/* The chart's name, or nameOverride. */}}
{{- define "lethe.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The prefix of every object's name: fullnameOverride, else the release name when it
already contains the chart's name (release "lethe" gives "lethe-manager"), else
"<release>-lethe". Kept to 50 characters so suffixes still fit in 63.
*/}}
{{- define "lethe.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Labels on every object the chart renders. */}}
{{- define "lethe.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "lethe.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: lethe
{{- end }}

{{/* The manager pods' selector: stable across upgrades, so never add to it. */}}
{{- define "lethe.managerSelectorLabels" -}}
app.kubernetes.io/name: {{ include "lethe.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: manager
{{- end }}

{{/* The manager's ServiceAccount. */}}
{{- define "lethe.managerServiceAccountName" -}}
{{- if .Values.manager.serviceAccount.create }}
{{- default (printf "%s-manager" (include "lethe.fullname" .)) .Values.manager.serviceAccount.name }}
{{- else }}
{{- required "manager.serviceAccount.name is required when manager.serviceAccount.create is false" .Values.manager.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The Secret holding the HMAC key of subject fingerprints (key "key"), in the release
namespace: fingerprintKey.existingSecret, else the one the chart creates.
*/}}
{{- define "lethe.fingerprintKeySecretName" -}}
{{- default (printf "%s-fingerprint-key" (include "lethe.fullname" .)) .Values.fingerprintKey.existingSecret }}
{{- end }}

{{/* The image both the manager and the worker Jobs run: one binary, two subcommands. */}}
{{- define "lethe.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/*
The namespaces worker Jobs run in: the release namespace plus worker.namespaces. Jobs run
in the namespace of the resource that asked for them (a RetentionPolicy, an
ErasureRequest), and their pods need the worker ServiceAccount there.
*/}}
{{- define "lethe.workerNamespaces" -}}
{{- $namespaces := list .Release.Namespace }}
{{- range .Values.worker.namespaces }}
{{- $namespaces = append $namespaces . }}
{{- end }}
{{- $namespaces | uniq | toJson }}
{{- end }}

{{/*
The rules of the generated RBAC (config/rbac/role.yaml, copied to files/role.yaml by
`make manifests`) for one kind, ClusterRole or Role, as a YAML list. Every document of
that kind contributes its rules: controller-gen writes one Role per namespace named in
a marker, and all of those mean the operator's own namespace.
*/}}
{{- define "lethe.generatedRules" -}}
{{- $kind := .kind }}
{{- $rules := list }}
{{- range $doc := regexSplit "(?m)^---[ \t]*$" (.root.Files.Get "files/role.yaml") -1 }}
{{- $obj := fromYaml $doc }}
{{- if and $obj (eq (get $obj "kind") $kind) }}
{{- $rules = concat $rules (get $obj "rules" | default list) }}
{{- end }}
{{- end }}
{{- if $rules }}
{{- toYaml $rules }}
{{- end }}
{{- end }}
