{{- define "ndif-operator.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "ndif-operator.serviceAccountName" -}}
{{- default (include "ndif-operator.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{- define "ndif-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "ndif-operator.labels" -}}
{{ include "ndif-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: operator
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* The rules the operator needs in each watched namespace (or cluster-wide). */}}
{{- define "ndif-operator.namespacedRules" -}}
- apiGroups: ["ndif.io"]
  resources: ["ndifclusters", "ndifdeployments"]
  verbs: ["get", "list", "watch", "patch", "update"]
- apiGroups: ["ndif.io"]
  resources: ["ndifclusters/status", "ndifdeployments/status"]
  verbs: ["get", "patch", "update"]
- apiGroups: ["ndif.io"]
  resources: ["ndifclusters/finalizers", "ndifdeployments/finalizers"]
  verbs: ["update"]
- apiGroups: ["ray.io"]
  resources: ["rayclusters", "rayservices"]
  verbs: ["get", "list", "watch", "create", "patch", "update", "delete"]
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get", "list", "watch"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["get", "list", "watch", "create", "patch"]
- apiGroups: ["networking.k8s.io"]
  resources: ["networkpolicies"]
  verbs: ["get", "list", "watch", "create", "patch", "update", "delete"]
# The Service of the gateway replicas' own port (<cluster>-gateway), only those it labels.
- apiGroups: [""]
  resources: ["services"]
  verbs: ["get", "list", "watch", "create", "patch", "update", "delete"]
# Ray tokens: KubeRay's Secret of each managed RayCluster, or the one an adopted cluster names.
# Only get (no list or watch), and the operator asks for no other Secret (docs/rbac.md).
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get"]
{{- if eq .Values.operator.dashboardAccess "proxy" }}
- apiGroups: [""]
  resources: ["services/proxy"]
  verbs: ["get", "update"]
{{- end }}
{{- end -}}
