package packaging

import (
	"testing"

	. "github.com/onsi/gomega"
	authorizationv1 "k8s.io/api/authorization/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/lethe-operator/lethe/controllers"
	"github.com/lethe-operator/lethe/internal/plan"
)

// A TenantDatabase's DataMap draft Job runs as --draft-service-account, which exists in
// every namespace where Jobs run and may create ConfigMaps there, through a RoleBinding,
// and nothing else.
func TestDraftJobsMayOnlyCreateConfigMaps(t *testing.T) {
	onlyCreateConfigMaps := []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"create"}}}
	for _, tc := range []struct {
		name           string
		objs           []*unstructured.Unstructured
		serviceAccount string
		namespaces     []string
	}{
		{"chart, default values", renderChart(t, "lethe", "lethe-system"), "lethe-drafter", []string{"lethe-system"}},
		{"chart, everything switched", renderChart(t, "lethe", "lethe-system", "-f", values("values-all.yaml")),
			"privacy-drafter", []string{"lethe-system", "tenant-a", "tenant-b"}},
		{"config/default", buildKustomize(t), "lethe-drafter", []string{"lethe-system"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			g.Expect(managerArgs(t, deployment(t, tc.objs))).To(ContainElement("--draft-service-account=" + tc.serviceAccount))
			g.Expect(rules(t, find(t, tc.objs, "ClusterRole", "lethe-drafter"))).To(Equal(onlyCreateConfigMaps))
			for _, ns := range tc.namespaces {
				g.Expect(describe(tc.objs)).To(ContainSubstring("ServiceAccount/" + ns + "/" + tc.serviceAccount))
				g.Expect(find(t, tc.objs, "ServiceAccount", tc.serviceAccount).Object["automountServiceAccountToken"]).
					To(BeFalse(), "only the draft pod asks for a token")
				var binding *rbacv1.RoleBinding
				for _, o := range ofKind(tc.objs, "RoleBinding") {
					if o.GetNamespace() == ns && o.GetName() == "lethe-drafter" {
						binding = &rbacv1.RoleBinding{}
						convert(t, o, binding)
					}
				}
				g.Expect(binding).NotTo(BeNil(), "no RoleBinding lethe-drafter in %s", ns)
				g.Expect(binding.RoleRef).To(Equal(rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "lethe-drafter"}))
				g.Expect(binding.Subjects).To(Equal([]rbacv1.Subject{{Kind: "ServiceAccount", Name: tc.serviceAccount, Namespace: ns}}))
			}
			for _, o := range ofKind(tc.objs, "ClusterRoleBinding") {
				b := &rbacv1.ClusterRoleBinding{}
				convert(t, o, b)
				g.Expect(b.RoleRef.Name).NotTo(Equal("lethe-drafter"), "%s grants the drafter role cluster-wide", id(o))
				for _, s := range b.Subjects {
					g.Expect(s.Name).NotTo(Equal(tc.serviceAccount), "%s binds the draft ServiceAccount cluster-wide", id(o))
				}
			}
		})
	}
	NewWithT(t).Expect(controllers.DefaultJobSettings().DraftServiceAccountName).To(Equal("lethe-drafter"))
}

// The API server agrees: the draft ServiceAccount creates ConfigMaps in its own
// namespace, and may not read or change any (a plan ConfigMap of another Job) or
// touch Secrets.
func TestDraftServiceAccountOnTheAPIServer(t *testing.T) {
	for _, ns := range []string{"lethe-draft", "draft-tenant"} {
		createRestrictedNamespace(t, ns)
	}
	objs := renderChart(t, "lethe-draft", "lethe-draft", "--set", "worker.namespaces={draft-tenant}",
		"--set", "admission.fourEyes.enabled=false")
	apply(t, "lethe-draft", objs)
	for _, tc := range []struct {
		namespace, verb, resource string
		allowed                   bool
	}{
		{"draft-tenant", "create", "configmaps", true},
		{"lethe-draft", "create", "configmaps", false}, // another namespace's account
		{"draft-tenant", "get", "configmaps", false},
		{"draft-tenant", "update", "configmaps", false},
		{"draft-tenant", "delete", "configmaps", false},
		{"draft-tenant", "create", "secrets", false},
	} {
		sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User:   "system:serviceaccount:draft-tenant:lethe-drafter",
			Groups: []string{"system:serviceaccounts", "system:serviceaccounts:draft-tenant", "system:authenticated"},
			ResourceAttributes: &authorizationv1.ResourceAttributes{
				Namespace: tc.namespace, Verb: tc.verb, Resource: tc.resource, Version: "v1",
			},
		}}
		if err := apiServer.Create(ctx, sar); err != nil {
			t.Fatal(err)
		}
		if sar.Status.Allowed != tc.allowed {
			t.Errorf("draft-tenant/lethe-drafter may %s %s in %s: %v, want %v (%s)",
				tc.verb, tc.resource, tc.namespace, sar.Status.Allowed, tc.allowed, sar.Status.Reason)
		}
	}
}

// With network policies on, draft pods (and no other worker pod but export pods) reach
// the API server, where the manager does.
func TestDraftPodsReachTheAPIServer(t *testing.T) {
	draftPod, verifyPod := workerPodLabels(t, plan.KindDraft), workerPodLabels(t, plan.KindVerify)
	for _, tc := range []struct {
		name       string
		objs       []*unstructured.Unstructured
		namespaces []string
	}{
		{"chart", renderChart(t, "lethe", "lethe-system", "-f", values("values-all.yaml")), []string{"lethe-system", "tenant-a", "tenant-b"}},
		{"config/default", buildKustomize(t, "network-policy"), []string{"lethe-system"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			policy := func(ns, name string) *networkingv1.NetworkPolicy {
				for _, o := range ofKind(tc.objs, "NetworkPolicy") {
					if o.GetNamespace() == ns && o.GetName() == name {
						np := &networkingv1.NetworkPolicy{}
						convert(t, o, np)
						return np
					}
				}
				t.Fatalf("no NetworkPolicy %s/%s", ns, name)
				return nil
			}
			selects := func(np *networkingv1.NetworkPolicy, pod labels.Set) bool {
				s, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
				g.Expect(err).NotTo(HaveOccurred())
				return s.Matches(pod)
			}
			apiServerRule := policy("lethe-system", "lethe-manager").Spec.Egress[1]
			for _, ns := range tc.namespaces {
				drafter := policy(ns, "lethe-drafter")
				g.Expect(selects(policy(ns, "lethe-worker"), draftPod)).To(BeTrue(), "the worker policy in %s misses draft pods", ns)
				g.Expect(selects(drafter, draftPod)).To(BeTrue(), "the drafter policy in %s misses draft pods", ns)
				g.Expect(selects(drafter, verifyPod)).To(BeFalse(), "the drafter policy in %s lets other worker pods reach the API server", ns)
				g.Expect(drafter.Spec.Egress).To(Equal([]networkingv1.NetworkPolicyEgressRule{apiServerRule}))
			}
		})
	}
}
