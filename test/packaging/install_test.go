package packaging

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

func TestChartAndConfigCRDsAreIdentical(t *testing.T) {
	g := NewWithT(t)
	bases := filepath.Join(root, "config", "crd", "bases")
	chart := filepath.Join(root, "charts", "lethe", "crds")
	names := func(dir string) []string {
		entries, err := os.ReadDir(dir)
		g.Expect(err).NotTo(HaveOccurred())
		var out []string
		for _, e := range entries {
			out = append(out, e.Name())
		}
		return out
	}
	g.Expect(names(bases)).NotTo(BeEmpty())
	g.Expect(names(chart)).To(Equal(names(bases)), "charts/lethe/crds and config/crd/bases hold different files: run `make manifests`")
	for _, name := range names(bases) {
		want, err := os.ReadFile(filepath.Join(bases, name))
		g.Expect(err).NotTo(HaveOccurred())
		got, err := os.ReadFile(filepath.Join(chart, name))
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(string(got)).To(Equal(string(want)), "charts/lethe/crds/%s differs from config/crd/bases: run `make manifests`", name)
	}
}

// kustomize cannot glob: config/crd/kustomization.yaml, written by `make manifests`,
// names each generated CRD.
func TestConfigCRDKustomizationListsEveryCRD(t *testing.T) {
	g := NewWithT(t)
	b, err := os.ReadFile(filepath.Join(root, "config", "crd", "kustomization.yaml"))
	g.Expect(err).NotTo(HaveOccurred())
	var k struct {
		Resources []string `json:"resources"`
	}
	g.Expect(yaml.Unmarshal(b, &k)).To(Succeed())
	files, err := filepath.Glob(filepath.Join(root, "config", "crd", "bases", "*.yaml"))
	g.Expect(err).NotTo(HaveOccurred())
	var want []string
	for _, f := range files {
		want = append(want, "bases/"+filepath.Base(f))
	}
	g.Expect(k.Resources).To(ConsistOf(want), "config/crd/kustomization.yaml must list every file of config/crd/bases: run `make manifests`")
}

func TestManagerDeploymentIsRestricted(t *testing.T) {
	for name, objs := range map[string][]*unstructured.Unstructured{
		"chart, default values":      renderChart(t, "lethe", "lethe-system"),
		"chart, everything switched": renderChart(t, "lethe", "lethe-system", "-f", values("values-all.yaml")),
		"config/default":             buildKustomize(t),
	} {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			d := deployment(t, objs)
			pod := d.Spec.Template.Spec
			g.Expect(pod.SecurityContext).NotTo(BeNil())
			g.Expect(pod.SecurityContext.RunAsNonRoot).To(HaveValue(BeTrue()), "pod runAsNonRoot")
			g.Expect(pod.SecurityContext.RunAsUser).To(HaveValue(Equal(int64(65532))), "pod runAsUser")
			g.Expect(pod.SecurityContext.SeccompProfile).To(HaveValue(HaveField("Type", corev1.SeccompProfileTypeRuntimeDefault)), "pod seccompProfile")
			g.Expect(pod.HostNetwork || pod.HostPID || pod.HostIPC).To(BeFalse(), "host namespaces")
			g.Expect(pod.Containers).To(HaveLen(1))
			g.Expect(pod.InitContainers).To(BeEmpty())
			c := pod.Containers[0]
			sc := c.SecurityContext
			g.Expect(sc).NotTo(BeNil())
			g.Expect(sc.RunAsNonRoot).To(HaveValue(BeTrue()), "container runAsNonRoot")
			g.Expect(sc.ReadOnlyRootFilesystem).To(HaveValue(BeTrue()), "readOnlyRootFilesystem")
			g.Expect(sc.AllowPrivilegeEscalation).To(HaveValue(BeFalse()), "allowPrivilegeEscalation")
			g.Expect(sc.Privileged).To(Or(BeNil(), HaveValue(BeFalse())), "privileged")
			g.Expect(sc.Capabilities).NotTo(BeNil())
			g.Expect(sc.Capabilities.Drop).To(Equal([]corev1.Capability{"ALL"}), "capabilities dropped")
			g.Expect(sc.Capabilities.Add).To(BeEmpty(), "capabilities added")
			g.Expect(sc.SeccompProfile).To(HaveValue(HaveField("Type", corev1.SeccompProfileTypeRuntimeDefault)), "container seccompProfile")

			// Probes on the probe port; resources; the operator's namespace from the downward API.
			g.Expect(c.LivenessProbe).To(HaveValue(HaveField("HTTPGet.Path", "/healthz")))
			g.Expect(c.ReadinessProbe).To(HaveValue(HaveField("HTTPGet.Path", "/readyz")))
			g.Expect(c.LivenessProbe.HTTPGet.Port.String()).To(Equal("health"))
			g.Expect(c.ReadinessProbe.HTTPGet.Port.String()).To(Equal("health"))
			g.Expect(c.Ports).To(ContainElement(corev1.ContainerPort{Name: "health", ContainerPort: 8081, Protocol: corev1.ProtocolTCP}))
			g.Expect(c.Args).To(ContainElement("--health-probe-bind-address=:8081"))
			g.Expect(c.Resources.Requests).To(HaveKey(corev1.ResourceCPU))
			g.Expect(c.Resources.Requests).To(HaveKey(corev1.ResourceMemory))
			g.Expect(c.Resources.Limits).To(HaveKey(corev1.ResourceMemory))
			g.Expect(c.Env).To(ContainElement(corev1.EnvVar{Name: "POD_NAMESPACE", ValueFrom: &corev1.EnvVarSource{
				FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}}))
			g.Expect(c.Args).NotTo(ContainElement(HavePrefix("--local-job-runner")), "the local job runner is for tests and make demo only")
		})
	}
}

// config/default builds the install the chart makes as release "lethe" in namespace
// lethe-system: the same objects with the same names, specs and rules. Only labels
// differ (Helm's own), kustomize creates the namespace Helm leaves to
// --create-namespace, and the fingerprint key, which config/default leaves to its user
// (its secretGenerator is switched on here), is random in the chart.
func TestConfigDefaultBuildsTheChartsInstall(t *testing.T) {
	for _, tc := range []struct {
		name      string
		optional  []string
		chartArgs []string
	}{
		{"defaults", nil, nil},
		{"with prometheus and network-policy", []string{"prometheus", "network-policy"}, []string{
			"--set", "metrics.serviceMonitor.enabled=true", "--set", "metrics.prometheusRule.enabled=true", "--set", "networkPolicy.enabled=true",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			chart := byID(renderChart(t, "lethe", "lethe-system", tc.chartArgs...))
			kustomize := byID(buildKustomize(t, append(tc.optional, fingerprintKeyPart)...))
			// The keys differ (the chart's is random); both are 32 bytes.
			for name, objs := range map[string]map[string]*unstructured.Unstructured{"the chart": chart, "config/default": kustomize} {
				secret, ok := objs["Secret/lethe-system/lethe-fingerprint-key"]
				g.Expect(ok).To(BeTrue(), "%s has no fingerprint key Secret", name)
				g.Expect(fingerprintKey(t, secret)).To(HaveLen(32), "%s: the fingerprint key", name)
				unstructured.RemoveNestedField(secret.Object, "data", "key")
			}
			ns, ok := kustomize["Namespace/lethe-system"]
			g.Expect(ok).To(BeTrue(), "config/default creates no namespace lethe-system")
			g.Expect(ns.GetLabels()).To(HaveKeyWithValue("pod-security.kubernetes.io/enforce", "restricted"))
			delete(kustomize, "Namespace/lethe-system")

			g.Expect(slices.Sorted(maps.Keys(kustomize))).To(Equal(slices.Sorted(maps.Keys(chart))))
			for key, c := range chart {
				k, ok := kustomize[key]
				if !ok {
					continue
				}
				if diff := cmp.Diff(content(c), content(k)); diff != "" {
					t.Errorf("%s differs between the chart (-) and config/default (+):\n%s", key, diff)
				}
			}
		})
	}
}

// content is an object without its metadata and, for a Deployment, without its pod
// template's labels beyond the selector's: what the install does, not how it is labelled.
func content(o *unstructured.Unstructured) map[string]any {
	c := o.DeepCopy().Object
	delete(c, "metadata")
	if o.GetKind() == "Deployment" {
		selector, _, _ := unstructured.NestedStringMap(c, "spec", "selector", "matchLabels")
		labels, _, _ := unstructured.NestedStringMap(c, "spec", "template", "metadata", "labels")
		for k := range labels {
			if _, ok := selector[k]; !ok {
				delete(labels, k)
			}
		}
		_ = unstructured.SetNestedStringMap(c, labels, "spec", "template", "metadata", "labels")
	}
	return c
}

func byID(objs []*unstructured.Unstructured) map[string]*unstructured.Unstructured {
	m := map[string]*unstructured.Unstructured{}
	for _, o := range objs {
		m[id(o)] = o
	}
	return m
}

// The manager's image is the Deployment's; the worker Jobs run the same one.
func TestWorkerJobsRunTheManagersImage(t *testing.T) {
	for name, objs := range map[string][]*unstructured.Unstructured{
		"chart":          renderChart(t, "lethe", "lethe-system", "--set", "image.tag=1.2.3"),
		"config/default": buildKustomize(t),
	} {
		d := deployment(t, objs)
		c := d.Spec.Template.Spec.Containers[0]
		if want := "--worker-image=" + c.Image; !slices.Contains(c.Args, want) {
			t.Errorf("%s: the manager runs %s but its args %v lack %s", name, c.Image, c.Args, want)
		}
	}
}

// managerArgs returns the manager container's arguments after the subcommand.
func managerArgs(t *testing.T, d *appsv1.Deployment) []string {
	t.Helper()
	args := d.Spec.Template.Spec.Containers[0].Args
	if len(args) == 0 || args[0] != "manager" {
		t.Fatalf("the manager container's args %v do not start with the manager subcommand", args)
	}
	return args[1:]
}

// flagName is the name of a --flag or --flag=value argument.
func flagName(arg string) string {
	name, _, _ := strings.Cut(strings.TrimLeft(arg, "-"), "=")
	return name
}
