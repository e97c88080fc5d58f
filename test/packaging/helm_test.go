package packaging

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

func TestHelmLintPasses(t *testing.T) {
	for name, args := range map[string][]string{
		"default values":      nil,
		"everything switched": {"-f", values("values-all.yaml")},
	} {
		t.Run(name, func(t *testing.T) {
			out, err := helm(append([]string{"lint", "--strict", chartPath, "--kube-version", kubeVersion}, args...)...)
			if err != nil {
				t.Fatalf("helm lint: %v\n%s", err, out)
			}
		})
	}
}

func TestHelmTemplateRendersEveryOptionalPart(t *testing.T) {
	g := NewWithT(t)
	objs := renderChart(t, "lethe", "lethe-system", "-f", values("values-all.yaml"))
	for _, kind := range []string{"ServiceMonitor", "PrometheusRule", "NetworkPolicy", "ConfigMap"} {
		g.Expect(ofKind(objs, kind)).NotTo(BeEmpty(), "no %s rendered", kind)
	}
	// The worker, export and draft ServiceAccounts, the export and draft RoleBindings and
	// the worker, export and draft NetworkPolicies exist wherever worker Jobs run.
	for _, ns := range []string{"lethe-system", "tenant-a", "tenant-b"} {
		for _, want := range []string{
			"ServiceAccount/" + ns + "/lethe-worker", "NetworkPolicy/" + ns + "/lethe-worker",
			"ServiceAccount/" + ns + "/privacy-exporter", "RoleBinding/" + ns + "/lethe-exporter",
			"NetworkPolicy/" + ns + "/lethe-exporter",
			"ServiceAccount/" + ns + "/privacy-drafter", "RoleBinding/" + ns + "/lethe-drafter",
			"NetworkPolicy/" + ns + "/lethe-drafter",
		} {
			g.Expect(describe(objs)).To(ContainSubstring(want))
		}
	}
	for _, sa := range ofKind(objs, "ServiceAccount") {
		if sa.GetName() == "lethe-worker" || sa.GetName() == "privacy-exporter" || sa.GetName() == "privacy-drafter" {
			g.Expect(sa.Object["automountServiceAccountToken"]).To(BeFalse(), "%s mounts a token", id(sa))
		}
	}
	g.Expect(find(t, objs, "ValidatingAdmissionPolicyBinding", "lethe-erasurerequest-four-eyes").Object).
		To(HaveKeyWithValue("spec", HaveKeyWithValue("validationActions", []any{"Warn", "Audit"})))

	// The worker has no Role at all: its pods need no API access.
	defaults := renderChart(t, "lethe", "lethe-system")
	for _, kind := range []string{"Role", "RoleBinding"} {
		for _, o := range append(ofKind(defaults, kind), ofKind(objs, kind)...) {
			g.Expect(o.GetName()).NotTo(ContainSubstring("worker"), "%s rendered", id(o))
		}
	}
	for _, kind := range []string{"ServiceMonitor", "PrometheusRule", "NetworkPolicy", "ConfigMap"} {
		g.Expect(ofKind(defaults, kind)).To(BeEmpty(), "%s rendered with default values", kind)
	}
}

func TestHelmValuesReachTheManager(t *testing.T) {
	g := NewWithT(t)
	deploy := deployment(t, renderChart(t, "lethe", "lethe-system", "-f", values("values-all.yaml")))
	pod := deploy.Spec.Template.Spec
	manager := pod.Containers[0]
	image := "ghcr.io/lethe-operator/lethe@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	g.Expect(manager.Image).To(Equal(image))
	g.Expect(manager.Args).To(ContainElements(
		"--leader-elect",
		"--worker-image="+image,
		"--worker-service-account=lethe-worker",
		"--export-service-account=privacy-exporter",
		"--draft-service-account=privacy-drafter",
		"--erasure-batch-window=30s",
		"--job-ttl-seconds=600",
		"--job-active-deadline-seconds=7200",
		"--job-backoff-limit=0",
		"--worker-cpu-request=1",
		"--worker-memory-request=128Mi",
		"--worker-memory-limit=1Gi",
		"--zap-log-level=debug",
		"--zap-stacktrace-level=error",
	))
	g.Expect(*deploy.Spec.Replicas).To(Equal(int32(2)))
	g.Expect(pod.ImagePullSecrets).To(Equal([]corev1.LocalObjectReference{{Name: "registry"}}))
	g.Expect(pod.NodeSelector).To(HaveKeyWithValue("kubernetes.io/os", "linux"))
	g.Expect(pod.Tolerations).To(HaveLen(1))
	g.Expect(pod.Affinity).NotTo(BeNil())
	g.Expect(pod.TopologySpreadConstraints).To(HaveLen(1))
	g.Expect(deploy.Spec.Template.Annotations).To(HaveKeyWithValue("example.com/team", "privacy"))
	g.Expect(deploy.Spec.Template.Labels).To(HaveKeyWithValue("example.com/tier", "control-plane"))
	g.Expect(manager.Env).To(ContainElement(corev1.EnvVar{Name: "GOMEMLIMIT", Value: "400MiB"}))
}

func TestLeaderElectionFollowsReplicas(t *testing.T) {
	for _, tc := range []struct {
		replicas, enabled string
		want              bool
	}{
		{"1", "true", true},
		{"1", "false", false},
		{"2", "false", true},
		{"3", "true", true},
	} {
		t.Run("replicas="+tc.replicas+",enabled="+tc.enabled, func(t *testing.T) {
			args := deployment(t, renderChart(t, "lethe", "lethe-system",
				"--set", "replicaCount="+tc.replicas, "--set", "manager.leaderElection.enabled="+tc.enabled)).
				Spec.Template.Spec.Containers[0].Args
			if got := slices.Contains(args, "--leader-elect"); got != tc.want {
				t.Errorf("--leader-elect in %v: %v, want %v", args, got, tc.want)
			}
		})
	}
}

func TestValuesSchemaRejectsBadValues(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  []string
		// want is what Helm's message names: the offending field.
		want string
	}{
		{"replicas as a word", []string{"--set-string", "replicaCount=two"}, "replicaCount"},
		{"negative replicas", []string{"--set", "replicaCount=-1"}, "replicaCount"},
		{"unknown top-level key", []string{"--set", "replicas=2"}, "replicas"},
		{"unknown nested key", []string{"--set", "worker.job.ttl=5"}, "ttl"},
		{"pull policy outside the enum", []string{"--set", "image.pullPolicy=Sometimes"}, "pullPolicy"},
		{"log encoder outside the enum", []string{"--set", "manager.logEncoder=xml"}, "logEncoder"},
		{"quantity that is not one", []string{"--set", "worker.resources.requests.cpu=lots"}, "cpu"},
		{"backoff limit as a word", []string{"--set-string", "worker.job.backoffLimit=twice"}, "backoffLimit"},
		{"Prometheus duration with a space", []string{"--set", "metrics.serviceMonitor.interval=30 seconds"}, "interval"},
		{"extra argument that is not a flag", []string{"--set", "manager.extraArgs[0]=verbose"}, "extraArgs"},
		{"namespace that is not a DNS label", []string{"--set", "worker.namespaces[0]=Tenant_A"}, "namespaces"},
		{"digest that is not sha256", []string{"--set", "image.digest=latest"}, "digest"},
		{"port out of range", []string{"--set", "manager.metricsPort=70000"}, "metricsPort"},
		{"batch window that is not a duration", []string{"--set", "erasureRequests.batchWindow=10"}, "batchWindow"},
		{"export ServiceAccount without a name", []string{"--set", "worker.exportServiceAccount.name="}, "name"},
		{"draft ServiceAccount without a name", []string{"--set", "worker.draftServiceAccount.name="}, "name"},
		{"fingerprint Secret that is not a name", []string{"--set", "fingerprintKey.existingSecret=My_Key"}, "existingSecret"},
		{"admission action outside the enum", []string{"--set", "admission.fourEyes.validationActions[0]=Reject"}, "validationActions"},
		{"admission Deny with Warn", []string{"--set", "admission.fourEyes.validationActions={Deny,Warn}"}, "validationActions"},
		{"the removed worker.rbac", []string{"--set", "worker.rbac.createSecrets=true"}, "rbac"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, cmd := range [][]string{
				{"template", "lethe", chartPath, "--kube-version", kubeVersion},
				{"lint", chartPath, "--kube-version", kubeVersion},
			} {
				out, err := helm(append(cmd, tc.set...)...)
				if err == nil {
					t.Fatalf("helm %s %v succeeded, want the schema to reject it:\n%s", cmd[0], tc.set, out)
				}
				if !strings.Contains(out, "schema") || !strings.Contains(out, tc.want) {
					t.Errorf("helm %s %v failed without naming %q in a schema error:\n%s", cmd[0], tc.set, tc.want, out)
				}
			}
		})
	}
}

func TestValuesSchemaAcceptsNumericQuantities(t *testing.T) {
	args := deployment(t, renderChart(t, "lethe", "lethe-system",
		"--set", "worker.resources.requests.cpu=2", "--set", "worker.resources.requests.memory=134217728")).
		Spec.Template.Spec.Containers[0].Args
	NewWithT(t).Expect(args).To(ContainElements("--worker-cpu-request=2", "--worker-memory-request=134217728"))
}

func TestGrafanaDashboard(t *testing.T) {
	g := NewWithT(t)
	cm := find(t, renderChart(t, "lethe", "lethe-system", "--set", "dashboard.enabled=true"), "ConfigMap", "lethe-dashboard")
	g.Expect(cm.GetLabels()).To(HaveKeyWithValue("grafana_dashboard", "1"))
	g.Expect(cm.GetNamespace()).To(Equal("lethe-system"))
	data, _, _ := unstructured.NestedString(cm.Object, "data", "lethe.json")
	var dashboard struct {
		UID    string `json:"uid"`
		Title  string `json:"title"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	g.Expect(json.Unmarshal([]byte(data), &dashboard)).To(Succeed(), "the dashboard is not JSON")
	g.Expect(dashboard.UID).NotTo(BeEmpty())
	var exprs []string
	for _, p := range dashboard.Panels {
		for _, target := range p.Targets {
			exprs = append(exprs, target.Expr)
		}
	}
	all := strings.Join(exprs, "\n")
	// Rows anonymized over time, requests by phase, time to deadline.
	for _, metric := range dashboardMetrics {
		g.Expect(all).To(ContainSubstring(metric), "no panel shows %s", metric)
	}
	g.Expect(all).To(ContainSubstring("by (action)"))
	g.Expect(all).To(ContainSubstring("by (kind, phase)"))

	other := find(t, renderChart(t, "lethe", "lethe-system", "--set", "dashboard.enabled=true", "--set", "dashboard.namespace=grafana"),
		"ConfigMap", "lethe-dashboard")
	g.Expect(other.GetNamespace()).To(Equal("grafana"))
}

// dashboardMetrics are the metrics the Grafana dashboard charts.
var dashboardMetrics = []string{
	"lethe_rows_processed_total",
	"lethe_erasure_rows_total",
	"lethe_requests",
	"lethe_erasure_request_deadline_seconds",
	"lethe_retention_runs_total",
	"lethe_tenantdatabase_schema_verified",
}

// deployment returns the one Deployment among objs, typed.
func deployment(t *testing.T, objs []*unstructured.Unstructured) *appsv1.Deployment {
	t.Helper()
	deployments := ofKind(objs, "Deployment")
	if len(deployments) != 1 {
		t.Fatalf("%d Deployments rendered, want 1: %s", len(deployments), describe(objs))
	}
	d := &appsv1.Deployment{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(deployments[0].Object, d, true); err != nil {
		t.Fatalf("the Deployment does not convert: %v", err)
	}
	return d
}
