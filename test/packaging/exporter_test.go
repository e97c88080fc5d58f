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

	privacyv1alpha1 "github.com/lethe-operator/lethe/api/v1alpha1"
	"github.com/lethe-operator/lethe/controllers"
	"github.com/lethe-operator/lethe/internal/plan"
)

// An AccessRequest's export Job runs as --export-service-account, which exists in every
// namespace where Jobs run and may create Secrets there, through a RoleBinding, and
// nothing else.
func TestExportJobsMayOnlyCreateSecrets(t *testing.T) {
	onlyCreateSecrets := []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"create"}}}
	for _, tc := range []struct {
		name           string
		objs           []*unstructured.Unstructured
		serviceAccount string
		namespaces     []string
	}{
		{"chart, default values", renderChart(t, "lethe", "lethe-system"), "lethe-exporter", []string{"lethe-system"}},
		{"chart, everything switched", renderChart(t, "lethe", "lethe-system", "-f", values("values-all.yaml")),
			"privacy-exporter", []string{"lethe-system", "tenant-a", "tenant-b"}},
		{"config/default", buildKustomize(t), "lethe-exporter", []string{"lethe-system"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			g.Expect(managerArgs(t, deployment(t, tc.objs))).To(ContainElement("--export-service-account=" + tc.serviceAccount))
			g.Expect(rules(t, find(t, tc.objs, "ClusterRole", "lethe-exporter"))).To(Equal(onlyCreateSecrets))
			for _, ns := range tc.namespaces {
				sa := find(t, tc.objs, "ServiceAccount", tc.serviceAccount)
				g.Expect(describe(tc.objs)).To(ContainSubstring("ServiceAccount/" + ns + "/" + tc.serviceAccount))
				g.Expect(sa.Object["automountServiceAccountToken"]).To(BeFalse(), "only the export pod asks for a token")
				var binding *rbacv1.RoleBinding
				for _, o := range ofKind(tc.objs, "RoleBinding") {
					if o.GetNamespace() == ns && o.GetName() == "lethe-exporter" {
						binding = &rbacv1.RoleBinding{}
						convert(t, o, binding)
					}
				}
				g.Expect(binding).NotTo(BeNil(), "no RoleBinding lethe-exporter in %s", ns)
				g.Expect(binding.RoleRef).To(Equal(rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "lethe-exporter"}))
				g.Expect(binding.Subjects).To(Equal([]rbacv1.Subject{{Kind: "ServiceAccount", Name: tc.serviceAccount, Namespace: ns}}))
			}
			for _, o := range ofKind(tc.objs, "ClusterRoleBinding") {
				b := &rbacv1.ClusterRoleBinding{}
				convert(t, o, b)
				g.Expect(b.RoleRef.Name).NotTo(Equal("lethe-exporter"), "%s grants the exporter role cluster-wide", id(o))
				for _, s := range b.Subjects {
					g.Expect(s.Name).NotTo(Equal(tc.serviceAccount), "%s binds the export ServiceAccount cluster-wide", id(o))
				}
			}
		})
	}
	// The chart's default is the manager's.
	NewWithT(t).Expect(controllers.DefaultJobSettings().ExportServiceAccountName).To(Equal("lethe-exporter"))
}

// The API server itself agrees: the export ServiceAccount creates Secrets in its own
// namespace, and may do nothing else there or anywhere.
func TestExportServiceAccountOnTheAPIServer(t *testing.T) {
	for _, ns := range []string{"lethe-export", "export-tenant"} {
		createRestrictedNamespace(t, ns)
	}
	// Without the four-eyes policy, which TestEveryRenderedObjectIsAccepted tries alone.
	objs := renderChart(t, "lethe-export", "lethe-export", "--set", "worker.namespaces={export-tenant}",
		"--set", "admission.fourEyes.enabled=false")
	apply(t, "lethe-export", objs)
	for _, tc := range []struct {
		namespace, verb, resource string
		allowed                   bool
	}{
		{"export-tenant", "create", "secrets", true},
		{"lethe-export", "create", "secrets", false}, // another namespace's account
		{"default", "create", "secrets", false},
		{"export-tenant", "get", "secrets", false},
		{"export-tenant", "list", "secrets", false},
		{"export-tenant", "update", "secrets", false},
		{"export-tenant", "delete", "secrets", false},
		{"export-tenant", "create", "configmaps", false},
	} {
		sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User:   "system:serviceaccount:export-tenant:lethe-exporter",
			Groups: []string{"system:serviceaccounts", "system:serviceaccounts:export-tenant", "system:authenticated"},
			ResourceAttributes: &authorizationv1.ResourceAttributes{
				Namespace: tc.namespace, Verb: tc.verb, Resource: tc.resource, Version: "v1",
			},
		}}
		if err := apiServer.Create(ctx, sar); err != nil {
			t.Fatal(err)
		}
		if sar.Status.Allowed != tc.allowed {
			t.Errorf("export-tenant/lethe-exporter may %s %s in %s: %v, want %v (%s)",
				tc.verb, tc.resource, tc.namespace, sar.Status.Allowed, tc.allowed, sar.Status.Reason)
		}
	}
}

// With network policies on, export pods (and no other worker pod) reach the API server,
// where the manager does; like every worker pod, they accept no traffic.
func TestExportPodsReachTheAPIServer(t *testing.T) {
	exportPod, verifyPod := workerPodLabels(t, plan.KindExport), workerPodLabels(t, plan.KindVerify)
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
			apiServerRule := policy("lethe-system", "lethe-manager").Spec.Egress[1]
			g.Expect(apiServerRule.Ports).NotTo(BeEmpty())
			for _, ns := range tc.namespaces {
				selects := func(np *networkingv1.NetworkPolicy, pod labels.Set) bool {
					s, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
					g.Expect(err).NotTo(HaveOccurred())
					return s.Matches(pod)
				}
				worker, exporter := policy(ns, "lethe-worker"), policy(ns, "lethe-exporter")
				g.Expect(selects(worker, exportPod)).To(BeTrue(), "the worker policy in %s misses export pods", ns)
				g.Expect(selects(exporter, exportPod)).To(BeTrue(), "the exporter policy in %s misses export pods", ns)
				g.Expect(selects(exporter, verifyPod)).To(BeFalse(), "the exporter policy in %s lets other worker pods reach the API server", ns)
				g.Expect(exporter.Spec.PolicyTypes).To(Equal([]networkingv1.PolicyType{networkingv1.PolicyTypeEgress}))
				g.Expect(exporter.Spec.Egress).To(Equal([]networkingv1.NetworkPolicyEgressRule{apiServerRule}),
					"export pods reach the API server as the manager does")
			}
		})
	}
}

// workerPodLabels are the labels of the pod of a Job the manager builds for kind.
func workerPodLabels(t *testing.T, kind plan.Kind) labels.Set {
	t.Helper()
	p := plan.Plan{Kind: kind}
	if kind == plan.KindExport {
		p.Options.ExportSecret = &plan.ExportSecret{Name: "req-export", Namespace: "tenant-a",
			OwnerAPIVersion: privacyv1alpha1.GroupVersion.String(), OwnerKind: "AccessRequest", OwnerName: "req", OwnerUID: "uid"}
	}
	_, job, err := controllers.BuildJob(controllers.DefaultJobSettings(), controllers.WorkerJob{
		Owner:     &metav1.ObjectMeta{Name: "req", Namespace: "tenant-a"},
		OwnerKind: "AccessRequest",
		Plan:      p,
		Database: &privacyv1alpha1.TenantDatabase{
			ObjectMeta: metav1.ObjectMeta{Name: "hotel-aurora", Namespace: "tenant-a"},
			Spec: privacyv1alpha1.TenantDatabaseSpec{Engine: privacyv1alpha1.EnginePostgres, Host: "db", Port: 5432,
				Database: "aurora", CredentialsSecretRef: privacyv1alpha1.CredentialsRef{Name: "aurora-db"}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if kind == plan.KindExport && job.Spec.Template.Spec.ServiceAccountName != controllers.DefaultJobSettings().ExportServiceAccountName {
		t.Fatalf("the export Job runs as %q, not the export ServiceAccount", job.Spec.Template.Spec.ServiceAccountName)
	}
	if kind == plan.KindDraft && job.Spec.Template.Spec.ServiceAccountName != controllers.DefaultJobSettings().DraftServiceAccountName {
		t.Fatalf("the draft Job runs as %q, not the draft ServiceAccount", job.Spec.Template.Spec.ServiceAccountName)
	}
	return job.Spec.Template.Labels
}
