package packaging

import (
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// The three installs applied to one API server. Cluster-scoped names differ (the
// chart's carry the release name), except the CRDs, which all three install alike.
func TestEveryRenderedObjectIsAccepted(t *testing.T) {
	installs := []struct {
		name       string
		namespaces []string // created first, as `helm install --create-namespace` would
		objs       func(t *testing.T) []*unstructured.Unstructured
	}{
		{"chart, default values", []string{"lethe-defaults"}, func(t *testing.T) []*unstructured.Unstructured {
			return renderChart(t, "lethe-defaults", "lethe-defaults")
		}},
		{"chart, everything switched on", []string{"lethe-all", "tenant-a", "tenant-b", "grafana"}, func(t *testing.T) []*unstructured.Unstructured {
			return renderChart(t, "lethe-all", "lethe-all", "-f", values("values-all.yaml"), "--set", "dashboard.namespace=grafana")
		}},
		{"config/default with prometheus and network-policy", nil, func(t *testing.T) []*unstructured.Unstructured {
			return buildKustomize(t, "prometheus", "network-policy")
		}},
	}
	for _, install := range installs {
		t.Run(install.name, func(t *testing.T) {
			for _, ns := range install.namespaces {
				createRestrictedNamespace(t, ns)
			}
			objs := install.objs(t)
			apply(t, install.name, objs)
			// The API server enforces the four-eyes policy. Its binding is then deleted, so
			// that the next install's policy is tried alone.
			g := NewWithT(t)
			g.Expect(ofKind(objs, "ValidatingAdmissionPolicy")).To(HaveLen(1), "%s: the four-eyes policy", install.name)
			bindings := ofKind(objs, "ValidatingAdmissionPolicyBinding")
			g.Expect(bindings).To(HaveLen(1), "%s: the four-eyes binding", install.name)
			fourEyesEnforced(t, deployment(t, objs).Namespace, bindings[0])
			g.Expect(apiServer.Delete(ctx, bindings[0].DeepCopy())).To(Succeed())
			// The manager's pod would be admitted in a namespace enforcing the restricted
			// Pod Security Standard.
			admitManagerPod(t, objs)
		})
	}
}

// The PodSecurity admission plugin is on in envtest's API server: a pod breaking the
// restricted standard is refused, so admitManagerPod's acceptance means something.
func TestRestrictedNamespaceRefusesAPrivilegedPod(t *testing.T) {
	createRestrictedNamespace(t, "lethe-psa-check")
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "privileged", Namespace: "lethe-psa-check"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "c", Image: "example.com/c",
			SecurityContext: &corev1.SecurityContext{Privileged: ptr.To(true)},
		}}},
	}
	err := apiServer.Create(ctx, pod, client.DryRunAll)
	NewWithT(t).Expect(err).To(MatchError(ContainSubstring("violates PodSecurity \"restricted")))
}

// apply server-side applies objs: CRDs and Namespaces first, until the CRDs are
// served, then the rest. Every object must be accepted with strict field validation.
func apply(t *testing.T, owner string, objs []*unstructured.Unstructured) {
	t.Helper()
	g := NewWithT(t)
	fieldOwner := client.FieldOwner("lethe-packaging-" + strings.NewReplacer(" ", "-", "/", "-", ",", "").Replace(owner))
	first := func(o *unstructured.Unstructured) bool {
		return o.GetKind() == "CustomResourceDefinition" || o.GetKind() == "Namespace"
	}
	for _, pass := range []bool{true, false} {
		for _, o := range objs {
			if first(o) != pass {
				continue
			}
			if err := apiServer.Apply(ctx, client.ApplyConfigurationFromUnstructured(o.DeepCopy()), fieldOwner, client.ForceOwnership); err != nil {
				t.Errorf("%s: %s refused: %v", owner, id(o), err)
			}
		}
		if pass {
			for _, crd := range ofKind(objs, "CustomResourceDefinition") {
				g.Eventually(func(g Gomega) {
					got := &apiextensionsv1.CustomResourceDefinition{}
					g.Expect(apiServer.Get(ctx, client.ObjectKey{Name: crd.GetName()}, got)).To(Succeed())
					g.Expect(established(got)).To(BeTrue(), "CRD %s not established", crd.GetName())
				}).WithTimeout(30 * time.Second).WithPolling(100 * time.Millisecond).Should(Succeed())
			}
		}
	}
	// Each object is there, read back from the API server.
	for _, o := range objs {
		got := &unstructured.Unstructured{}
		got.SetGroupVersionKind(o.GroupVersionKind())
		if err := apiServer.Get(ctx, client.ObjectKeyFromObject(o), got); err != nil {
			t.Errorf("%s: %s not found after apply: %v", owner, id(o), err)
		}
	}
}

func established(crd *apiextensionsv1.CustomResourceDefinition) bool {
	for _, c := range crd.Status.Conditions {
		if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
			return true
		}
	}
	return false
}

func createRestrictedNamespace(t *testing.T, name string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
		"pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/enforce-version": "latest",
	}}}
	if err := apiServer.Create(ctx, ns); err != nil {
		t.Fatalf("creating namespace %s: %v", name, err)
	}
}

// admitManagerPod dry-runs the creation of a Pod from the manager Deployment's pod
// template in its namespace, which enforces the restricted Pod Security Standard.
func admitManagerPod(t *testing.T, objs []*unstructured.Unstructured) {
	t.Helper()
	d := deployment(t, objs)
	ns := &corev1.Namespace{}
	if err := apiServer.Get(ctx, client.ObjectKey{Name: d.Namespace}, ns); err != nil {
		t.Fatalf("namespace %s: %v", d.Namespace, err)
	}
	if ns.Labels["pod-security.kubernetes.io/enforce"] != "restricted" {
		t.Fatalf("namespace %s does not enforce the restricted Pod Security Standard: %v", d.Namespace, ns.Labels)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: d.Name + "-admission-check", Namespace: d.Namespace, Labels: d.Spec.Template.Labels},
		Spec:       d.Spec.Template.Spec,
	}
	if err := apiServer.Create(ctx, pod, client.DryRunAll); err != nil {
		t.Errorf("the manager's pod is refused in namespace %s: %v", d.Namespace, err)
	}
}
