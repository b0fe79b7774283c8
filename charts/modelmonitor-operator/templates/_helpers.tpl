{{/*
Names, labels and small computed values shared by every template.
*/}}

{{/* The chart name, overridable. */}}
{{- define "modelmonitor.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The resource name prefix: "<release>-<chart>", or the release name when it already contains the chart name. */}}
{{- define "modelmonitor.fullname" -}}
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

{{/* "name-version" for the helm.sh/chart label. */}}
{{- define "modelmonitor.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels that select the operator Pods; never change between upgrades. */}}
{{- define "modelmonitor.selectorLabels" -}}
app.kubernetes.io/name: {{ include "modelmonitor.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{/* Labels on every resource. Call with a dict: (dict "context" $ "component" "operator"). */}}
{{- define "modelmonitor.labels" -}}
{{- $ctx := .context -}}
app.kubernetes.io/name: {{ include "modelmonitor.name" $ctx }}
app.kubernetes.io/instance: {{ $ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
app.kubernetes.io/version: {{ $ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ $ctx.Release.Service }}
app.kubernetes.io/part-of: modelmonitor
helm.sh/chart: {{ include "modelmonitor.chart" $ctx }}
{{- with $ctx.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* The operator's ServiceAccount name. */}}
{{- define "modelmonitor.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "modelmonitor.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The leader-election Lease name. */}}
{{- define "modelmonitor.leaseName" -}}
{{- default (printf "%s-leader" (include "modelmonitor.fullname" .)) .Values.leaderElection.leaseName | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* "repository@digest" or "repository:tag" from an image dict; call with (list $ .Values.image). */}}
{{- define "modelmonitor.imageRef" -}}
{{- $root := index . 0 }}
{{- $image := index . 1 }}
{{- if $image.digest }}
{{- printf "%s@%s" $image.repository $image.digest }}
{{- else }}
{{- printf "%s:%s" $image.repository (default $root.Chart.AppVersion $image.tag) }}
{{- end }}
{{- end }}

{{/* The operator image. */}}
{{- define "modelmonitor.image" -}}
{{- include "modelmonitor.imageRef" (list . .Values.image) }}
{{- end }}

{{/* The evaluation Job image: evaluator.image, or the operator image when its repository is empty. */}}
{{- define "modelmonitor.evaluatorImage" -}}
{{- if .Values.evaluator.image.repository }}
{{- include "modelmonitor.imageRef" (list . .Values.evaluator.image) }}
{{- else }}
{{- include "modelmonitor.image" . }}
{{- end }}
{{- end }}

{{/* Namespaces that get an evaluator ServiceAccount, as a YAML list. */}}
{{- define "modelmonitor.evaluatorNamespaces" -}}
{{- if .Values.watchNamespaces }}
{{- toYaml (uniq .Values.watchNamespaces) }}
{{- else if .Values.evaluator.serviceAccount.namespaces }}
{{- toYaml (uniq .Values.evaluator.serviceAccount.namespaces) }}
{{- else }}
{{- toYaml (list .Release.Namespace) }}
{{- end }}
{{- end }}

{{/*
Rules for the namespaced objects the operator works with. Shared by the ClusterRole (all namespaces) and the
per-namespace Roles (watchNamespaces), so both modes grant exactly the same verbs.
*/}}
{{- define "modelmonitor.namespacedRules" -}}
# ModelMonitors: watch them, add the finalizer and kopf's progress annotations, write status.
- apiGroups: ["modelmonitor.io"]
  resources: ["modelmonitors"]
  verbs: ["get", "list", "watch", "patch", "update"]
- apiGroups: ["modelmonitor.io"]
  resources: ["modelmonitors/status"]
  verbs: ["patch", "update"]
# Events about monitors (verdicts, alerts, rollbacks), through either events API.
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create", "patch"]
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
# Evaluation runs: a CronJob per monitor, Jobs for on-demand runs; watched to collect finished runs.
- apiGroups: ["batch"]
  resources: ["cronjobs", "jobs"]
  verbs: ["create", "get", "list", "watch", "patch", "delete"]
# The evaluation config (one owned ConfigMap per monitor).
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["create", "get", "list", "watch", "patch"]
# Evaluation Pods: read their termination message (the evaluation summary).
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get", "list", "watch"]
# Alert-channel credentials (SMTP, webhook URL, SMS provider) and S3 credentials named in a spec.
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get"]
{{- range .Values.rollback.targets }}
# Rollback target listed in values rollback.targets.
- apiGroups: [{{ .apiGroup | quote }}]
  resources: {{ toJson .resources }}
  verbs: ["get", "patch"]
{{- end }}
{{- end }}
