package packaging

import (
	"slices"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	authenticationv1 "k8s.io/api/authentication/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// The chart's four-eyes policy is config/admission's (the e2e tests try that one as two
// users): the same spec under the release's names, on by default, off on request.
func TestChartShipsConfigAdmissionsFourEyesPolicy(t *testing.T) {
	g := NewWithT(t)
	want := readObjects(t, "config/admission/erasurerequest_four_eyes.yaml")
	wantPolicy := find(t, want, "ValidatingAdmissionPolicy", "lethe-erasurerequest-four-eyes")
	wantBinding := find(t, want, "ValidatingAdmissionPolicyBinding", "lethe-erasurerequest-four-eyes")

	for _, tc := range []struct{ release, namespace, name string }{
		{"lethe", "lethe-system", "lethe-erasurerequest-four-eyes"},
		{"privacy", "gdpr", "privacy-lethe-erasurerequest-four-eyes"},
	} {
		objs := renderChart(t, tc.release, tc.namespace)
		policy := find(t, objs, "ValidatingAdmissionPolicy", tc.name)
		g.Expect(policy.Object["spec"]).To(Equal(wantPolicy.Object["spec"]),
			"charts/lethe/templates/admission.yaml and config/admission differ: change both together")
		binding := find(t, objs, "ValidatingAdmissionPolicyBinding", tc.name)
		spec := binding.DeepCopy().Object["spec"].(map[string]any)
		g.Expect(spec["policyName"]).To(Equal(tc.name), "the binding names the release's policy")
		spec["policyName"] = wantBinding.Object["spec"].(map[string]any)["policyName"]
		g.Expect(spec).To(Equal(wantBinding.Object["spec"]))
	}

	// config/default installs the same objects under the same names (its binding's
	// policyName follows the renamed policy).
	kustomize := buildKustomize(t)
	g.Expect(content(find(t, kustomize, "ValidatingAdmissionPolicy", "lethe-erasurerequest-four-eyes"))).To(Equal(content(wantPolicy)))
	g.Expect(content(find(t, kustomize, "ValidatingAdmissionPolicyBinding", "lethe-erasurerequest-four-eyes"))).To(Equal(content(wantBinding)))

	off := renderChart(t, "lethe", "lethe-system", "--set", "admission.fourEyes.enabled=false")
	g.Expect(ofKind(off, "ValidatingAdmissionPolicy")).To(BeEmpty())
	g.Expect(ofKind(off, "ValidatingAdmissionPolicyBinding")).To(BeEmpty())
}

// fourEyesEnforced checks, in namespace ns, that the API server enforces the four-eyes
// policy of binding (applied, and the only binding of a four-eyes policy): a request
// needing approval is refused (or, for a binding that only warns, warned about) without
// the requested-by annotation, and admitted with it. The API server compiles and runs
// the policy's CEL on the request; a policy that does not compile refuses everything,
// as its failurePolicy is Fail. (envtest runs no kube-controller-manager, so the
// policy's status.typeChecking is never written and cannot be read instead.)
func fourEyesEnforced(t *testing.T, ns string, binding *unstructured.Unstructured) {
	t.Helper()
	g := NewWithT(t)
	policy, _, _ := unstructured.NestedString(binding.Object, "spec", "policyName")
	actions, _, _ := unstructured.NestedStringSlice(binding.Object, "spec", "validationActions")
	warnings := &warningRecorder{}
	cfg := rest.CopyConfig(testEnv.Config)
	cfg.WarningHandler = warnings
	c, err := client.New(cfg, client.Options{})
	g.Expect(err).NotTo(HaveOccurred())

	review := &authenticationv1.SelfSubjectReview{}
	g.Expect(c.Create(ctx, review)).To(Succeed())
	user := review.Status.UserInfo.Username
	request := func(annotations map[string]string) *unstructured.Unstructured {
		er := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "privacy.lethe.dev/v1alpha1", "kind": "ErasureRequest",
			"metadata": map[string]any{"generateName": "four-eyes-", "namespace": ns},
			"spec": map[string]any{
				"subject":  map[string]any{"type": "email", "secretRef": map[string]any{"name": "subject", "key": "value"}},
				"approval": map[string]any{"required": true},
			},
		}}
		er.SetAnnotations(annotations)
		return er
	}
	refusal := And(ContainSubstring("ValidatingAdmissionPolicy '"+policy+"'"), ContainSubstring("privacy.lethe.dev/requested-by to "+user))
	g.Eventually(func(g Gomega) {
		warnings.reset()
		err := c.Create(ctx, request(nil), client.DryRunAll)
		if slices.Contains(actions, "Deny") {
			g.Expect(err).To(MatchError(refusal))
		} else {
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(warnings.get()).To(ContainElement(refusal))
		}
	}).WithTimeout(30 * time.Second).WithPolling(200 * time.Millisecond).Should(Succeed())
	warnings.reset()
	g.Expect(c.Create(ctx, request(map[string]string{"privacy.lethe.dev/requested-by": user}), client.DryRunAll)).To(Succeed())
	g.Expect(warnings.get()).NotTo(ContainElement(ContainSubstring(policy)))
}

// warningRecorder keeps the warnings the API server sends.
type warningRecorder struct {
	mu       sync.Mutex
	warnings []string
}

func (w *warningRecorder) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.warnings = append(w.warnings, text)
}

func (w *warningRecorder) get() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.warnings)
}

func (w *warningRecorder) reset() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.warnings = nil
}
