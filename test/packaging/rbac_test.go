package packaging

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	. "github.com/onsi/gomega"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// renders are every way Lethe's RBAC reaches a cluster, by name.
func renders(t *testing.T) map[string][]*unstructured.Unstructured {
	return map[string][]*unstructured.Unstructured{
		"config/rbac/role.yaml":        readObjects(t, "config/rbac/role.yaml"),
		"chart, default values":        renderChart(t, "lethe", "lethe-system"),
		"chart, everything switched":   renderChart(t, "lethe", "lethe-system", "-f", values("values-all.yaml")),
		"config/default":               buildKustomize(t),
		"config/default, all optional": buildKustomize(t, "prometheus", "network-policy"),
	}
}

func TestNoRBACRuleHasAWildcard(t *testing.T) {
	for name, objs := range renders(t) {
		var roles int
		for _, o := range objs {
			if o.GetKind() != "Role" && o.GetKind() != "ClusterRole" {
				continue
			}
			roles++
			for i, rule := range rules(t, o) {
				for field, values := range map[string][]string{
					"apiGroups": rule.APIGroups, "resources": rule.Resources, "verbs": rule.Verbs,
					"resourceNames": rule.ResourceNames, "nonResourceURLs": rule.NonResourceURLs,
				} {
					for _, v := range values {
						if bytes.ContainsRune([]byte(v), '*') {
							t.Errorf("%s: %s rule %d has %s %q: name what Lethe needs instead", name, id(o), i, field, v)
						}
					}
				}
			}
			if agg, found, _ := unstructured.NestedFieldNoCopy(o.Object, "aggregationRule"); found && agg != nil {
				t.Errorf("%s: %s aggregates other roles: its rules are then not the ones written here", name, id(o))
			}
		}
		if roles == 0 {
			t.Errorf("%s: no Role or ClusterRole", name)
		}
	}
}

// The chart takes the manager's rules from files/role.yaml, which `make manifests`
// copies from config/rbac/role.yaml (controller-gen's output from the markers).
func TestChartRulesAreTheGeneratedRules(t *testing.T) {
	g := NewWithT(t)
	generated, err := os.ReadFile(filepath.Join(root, "config", "rbac", "role.yaml"))
	g.Expect(err).NotTo(HaveOccurred())
	copied, err := os.ReadFile(filepath.Join(root, "charts", "lethe", "files", "role.yaml"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(string(copied)).To(Equal(string(generated)),
		"charts/lethe/files/role.yaml differs from config/rbac/role.yaml: run `make manifests`")

	want := map[string][]rbacv1.PolicyRule{}
	for _, o := range readObjects(t, "config/rbac/role.yaml") {
		want[o.GetKind()] = append(want[o.GetKind()], rules(t, o)...)
	}
	g.Expect(want).To(HaveKey("ClusterRole"))

	chart := renderChart(t, "lethe", "lethe-system")
	g.Expect(rules(t, find(t, chart, "ClusterRole", "lethe-manager"))).To(Equal(want["ClusterRole"]))
	if want["Role"] != nil {
		role := find(t, chart, "Role", "lethe-manager")
		g.Expect(role.GetNamespace()).To(Equal("lethe-system"))
		g.Expect(rules(t, role)).To(Equal(want["Role"]))
	}

	// The namespaced Role follows the release into any namespace.
	elsewhere := find(t, renderChart(t, "privacy", "gdpr"), "Role", "privacy-lethe-manager")
	g.Expect(elsewhere.GetNamespace()).To(Equal("gdpr"))
}

// Every binding names a role and ServiceAccounts the same install creates.
func TestBindingsReferToObjectsOfTheSameInstall(t *testing.T) {
	for name, objs := range renders(t) {
		if name == "config/rbac/role.yaml" {
			continue
		}
		present := map[string]bool{}
		for _, o := range objs {
			present[id(o)] = true
		}
		for _, o := range objs {
			var ref rbacv1.RoleRef
			var subjects []rbacv1.Subject
			switch o.GetKind() {
			case "ClusterRoleBinding":
				b := &rbacv1.ClusterRoleBinding{}
				convert(t, o, b)
				ref, subjects = b.RoleRef, b.Subjects
			case "RoleBinding":
				b := &rbacv1.RoleBinding{}
				convert(t, o, b)
				ref, subjects = b.RoleRef, b.Subjects
			default:
				continue
			}
			role := "ClusterRole/" + ref.Name
			if ref.Kind == "Role" {
				role = "Role/" + o.GetNamespace() + "/" + ref.Name
			}
			if !present[role] {
				t.Errorf("%s: %s binds %s, which it does not create", name, id(o), role)
			}
			for _, s := range subjects {
				if sa := "ServiceAccount/" + s.Namespace + "/" + s.Name; s.Kind != "ServiceAccount" || !present[sa] {
					t.Errorf("%s: %s binds %s %s/%s, which it does not create", name, id(o), s.Kind, s.Namespace, s.Name)
				}
			}
		}
	}
}

func rules(t *testing.T, o *unstructured.Unstructured) []rbacv1.PolicyRule {
	t.Helper()
	r := &rbacv1.ClusterRole{}
	convert(t, o, r)
	return r.Rules
}

func convert(t *testing.T, o *unstructured.Unstructured, into any) {
	t.Helper()
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(o.Object, into, true); err != nil {
		t.Fatalf("%s: %v", id(o), err)
	}
}
