{{/* touchline.fullname is the prefix of every object's name. */}}
{{- define "touchline.fullname" -}}
{{- if contains "touchline" .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-touchline" .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* touchline.selector labels the pods of one component: (dict "root" $ "component" NAME). */}}
{{- define "touchline.selector" -}}
app.kubernetes.io/name: touchline
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* touchline.labels labels every object of one component. */}}
{{- define "touchline.labels" -}}
{{ include "touchline.selector" . }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/version: {{ .root.Values.image.tag | quote }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end -}}

{{/* touchline.pepperSecret names the Secret of the pepper, failing the render when there is none. */}}
{{- define "touchline.pepperSecret" -}}
{{- if .Values.pepper.existingSecret -}}
{{- .Values.pepper.existingSecret -}}
{{- else -}}
{{- $_ := required "pepper.value or pepper.existingSecret is required: the pepper keys the hashes of emails and phones, and a missing one would silently change every hash (--set pepper.value=\"$(openssl rand -hex 32)\")" .Values.pepper.value -}}
{{- printf "%s-pepper" (include "touchline.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/* touchline.configSecret names the Secret of the config value's touchline.yaml, or is empty without one. */}}
{{- define "touchline.configSecret" -}}
{{- if .Values.config -}}
{{- printf "%s-config" (include "touchline.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/* touchline.env is the environment of every container: where the servers are. */}}
{{- define "touchline.env" -}}
- {name: TOUCHLINE_KAFKA_BROKERS, value: {{ .Values.kafka.brokers | quote }}}
- {name: TOUCHLINE_SCHEMA_REGISTRY_URL, value: {{ .Values.schemaRegistry.url | quote }}}
- {name: TOUCHLINE_CLICKHOUSE_ADDR, value: {{ .Values.clickhouse.addr | quote }}}
- {name: TOUCHLINE_CLICKHOUSE_DATABASE, value: {{ .Values.clickhouse.database | quote }}}
{{- with .Values.clickhouse.user }}
- {name: TOUCHLINE_CLICKHOUSE_USER, value: {{ . | quote }}}
{{- end }}
{{- with .Values.clickhouse.passwordSecret.name }}
- name: TOUCHLINE_CLICKHOUSE_PASSWORD
  valueFrom: {secretKeyRef: {name: {{ . | quote }}, key: {{ $.Values.clickhouse.passwordSecret.key | quote }}, optional: false}}
{{- end }}
- {name: TOUCHLINE_PIPELINES, value: /etc/touchline/pipelines}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* touchline.scheduling is where every pod may run and what it pulls its image with. */}}
{{- define "touchline.scheduling" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* touchline.containerSecurity is the security context of every container. */}}
{{- define "touchline.containerSecurity" -}}
securityContext:
  allowPrivilegeEscalation: false
  readOnlyRootFilesystem: true
  capabilities: {drop: [ALL]}
{{- end -}}

{{/*
touchline.pod is the pod template of a service: (dict "root" $ "component" NAME
"values" .Values.NAME "port" PORT "pepper" BOOL "env" [EXTRA ENV] "config" SECRET
"state" KIND). pepper gives it the pepper, config mounts the touchline.yaml of a
Secret as its TOUCHLINE_CONFIG (by default that of the chart's config value, if
any), state mounts the volume "state" as its
TOUCHLINE_STATE_DIR: an emptyDir for state "emptyDir", the StatefulSet's claim
for "claim".
*/}}
{{- define "touchline.pod" -}}
{{- $config := .config | default (include "touchline.configSecret" .root) -}}
metadata:
  labels:
    {{- include "touchline.labels" . | nindent 4 }}
spec:
  terminationGracePeriodSeconds: {{ .values.terminationGracePeriodSeconds }}
  # Service links would put TOUCHLINE_INGEST_PORT and the like, in touchline's
  # namespace of variables, into every pod's environment.
  enableServiceLinks: false
  securityContext:
    {{- toYaml .root.Values.podSecurityContext | nindent 4 }}
  {{- with include "touchline.scheduling" .root | trim }}{{ . | nindent 2 }}{{ end }}
  containers:
    - name: {{ .component }}
      image: "{{ .root.Values.image.repository }}:{{ .root.Values.image.tag }}"
      imagePullPolicy: {{ .root.Values.image.pullPolicy }}
      command: ["/usr/local/bin/{{ .component }}"]
      env:
        {{- include "touchline.env" .root | nindent 8 }}
        {{- if .pepper }}
        - {name: TOUCHLINE_REQUIRE_PEPPER, value: "true"}
        - name: TOUCHLINE_PEPPER
          valueFrom: {secretKeyRef: {name: {{ include "touchline.pepperSecret" .root | quote }}, key: {{ .root.Values.pepper.key | quote }}, optional: false}}
        {{- end }}
        {{- if .state }}
        - {name: TOUCHLINE_STATE_DIR, value: /var/lib/touchline}
        {{- end }}
        {{- if $config }}
        - {name: TOUCHLINE_CONFIG, value: /etc/touchline/config/touchline.yaml}
        {{- end }}
        {{- with .env }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      ports: [{name: http, containerPort: {{ .port }}}]
      livenessProbe:
        httpGet: {path: /healthz, port: http}
        periodSeconds: 10
        failureThreshold: 6
      readinessProbe:
        httpGet: {path: /readyz, port: http}
        periodSeconds: 5
      resources:
        {{- toYaml .values.resources | nindent 8 }}
      {{- include "touchline.containerSecurity" . | nindent 6 }}
      volumeMounts:
        - {name: pipelines, mountPath: /etc/touchline/pipelines, readOnly: true}
        - {name: tmp, mountPath: /tmp}
        {{- if .state }}
        - {name: state, mountPath: /var/lib/touchline}
        {{- end }}
        {{- if $config }}
        - {name: config, mountPath: /etc/touchline/config, readOnly: true}
        {{- end }}
  volumes:
    - name: pipelines
      configMap: {name: {{ .root.Values.pipelines.configMap | quote }}}
    - name: tmp
      emptyDir: {}
    {{- if eq (default "" .state) "emptyDir" }}
    - name: state
      emptyDir: {}
    {{- end }}
    {{- if $config }}
    - name: config
      secret: {secretName: {{ $config | quote }}}
    {{- end }}
{{- end -}}
