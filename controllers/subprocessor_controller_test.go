package controllers

import (
	"context"
	"testing"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	privacyv1alpha1 "github.com/lethe-operator/lethe/api/v1alpha1"
)

// TestSubprocessorCompliance runs the controller in a manager and checks the Compliant,
// Ready and Stalled conditions for transfers inside the EEA, under an adequacy decision,
// under SCCs, and without a mechanism.
func TestSubprocessorCompliance(t *testing.T) {
	env := startSubprocessorEnv(t)
	startSubprocessorManager(t, env)
	ctx := context.Background()

	cases := []struct {
		sp        *privacyv1alpha1.Subprocessor
		compliant metav1.ConditionStatus
		reason    string
	}{
		{newSubprocessor("eea-backups", "IE", ""), metav1.ConditionTrue, privacyv1alpha1.ReasonInsideEEA},
		{newSubprocessor("eea-norway", "NO", privacyv1alpha1.TransferNone), metav1.ConditionTrue, privacyv1alpha1.ReasonInsideEEA},
		{newSubprocessor("adequacy-japan", "JP", privacyv1alpha1.TransferAdequacy), metav1.ConditionTrue, privacyv1alpha1.ReasonAdequacyDecision},
		{newSubprocessor("adequacy-india", "IN", privacyv1alpha1.TransferAdequacy), metav1.ConditionFalse, privacyv1alpha1.ReasonNoAdequacyDecision},
		{newSubprocessor("scc-mailer", "US", privacyv1alpha1.TransferSCC), metav1.ConditionTrue, privacyv1alpha1.ReasonStandardContractualClauses},
		{newSubprocessor("bcr-group", "IN", privacyv1alpha1.TransferBCR), metav1.ConditionTrue, privacyv1alpha1.ReasonBindingCorporateRules},
		{newSubprocessor("none-outside", "US", privacyv1alpha1.TransferNone), metav1.ConditionFalse, privacyv1alpha1.ReasonNoTransferMechanism},
		{newSubprocessor("unknown-country", "XX", privacyv1alpha1.TransferSCC), metav1.ConditionFalse, privacyv1alpha1.ReasonUnknownCountry},
	}
	for _, tc := range cases {
		if err := env.Client.Create(ctx, tc.sp); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range cases {
		t.Run(tc.sp.Name, func(t *testing.T) {
			g := newGomega(t)
			g.Eventually(func(g Gomega) {
				sp := &privacyv1alpha1.Subprocessor{}
				g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(tc.sp), sp)).To(Succeed())
				g.Expect(sp.Status.ObservedGeneration).To(Equal(sp.Generation))
				compliant := meta.FindStatusCondition(sp.Status.Conditions, privacyv1alpha1.ConditionCompliant)
				g.Expect(compliant).NotTo(BeNil())
				g.Expect(compliant.Status).To(Equal(tc.compliant))
				g.Expect(compliant.Reason).To(Equal(tc.reason))
				g.Expect(compliant.ObservedGeneration).To(Equal(sp.Generation))
				ok := tc.compliant == metav1.ConditionTrue
				g.Expect(meta.IsStatusConditionTrue(sp.Status.Conditions, privacyv1alpha1.ConditionReady)).To(Equal(ok))
				g.Expect(meta.IsStatusConditionTrue(sp.Status.Conditions, privacyv1alpha1.ConditionStalled)).To(Equal(!ok))
				g.Expect(meta.IsStatusConditionFalse(sp.Status.Conditions, privacyv1alpha1.ConditionReconciling)).To(BeTrue())
			}).Should(Succeed())
		})
	}

	t.Run("fixing the mechanism makes it compliant", func(t *testing.T) {
		g := newGomega(t)
		sp := &privacyv1alpha1.Subprocessor{}
		g.Expect(env.Client.Get(ctx, client.ObjectKey{Name: "none-outside"}, sp)).To(Succeed())
		sp.Spec.TransferMechanism = privacyv1alpha1.TransferSCC
		g.Expect(env.Client.Update(ctx, sp)).To(Succeed())
		g.Eventually(func(g Gomega) {
			g.Expect(env.Client.Get(ctx, client.ObjectKey{Name: "none-outside"}, sp)).To(Succeed())
			g.Expect(sp.Status.ObservedGeneration).To(Equal(int64(2)))
			g.Expect(meta.IsStatusConditionTrue(sp.Status.Conditions, privacyv1alpha1.ConditionCompliant)).To(BeTrue())
			g.Expect(meta.IsStatusConditionTrue(sp.Status.Conditions, privacyv1alpha1.ConditionReady)).To(BeTrue())
			g.Expect(meta.IsStatusConditionTrue(sp.Status.Conditions, privacyv1alpha1.ConditionStalled)).To(BeFalse())
		}).Should(Succeed())
		// Events of cluster-scoped objects land in the default namespace.
		g.Eventually(func(g Gomega) []string {
			return eventNotes(g, env.Client, "default", privacyv1alpha1.ReasonNoTransferMechanism)
		}).Should(ContainElement(ContainSubstring("US is outside the EU/EEA")))
		g.Eventually(func(g Gomega) []string {
			return eventNotes(g, env.Client, "default", privacyv1alpha1.ReasonStandardContractualClauses)
		}).Should(ContainElement(ContainSubstring("standard contractual clauses")))
	})
}

// TestSubprocessorHostingConditions checks the conditions a TenantDatabase gets from the
// Subprocessors in its hostedBy, against Subprocessors stored in a real API server.
func TestSubprocessorHostingConditions(t *testing.T) {
	env := startSubprocessorEnv(t)
	ctx := context.Background()
	for _, sp := range []*privacyv1alpha1.Subprocessor{
		newSubprocessor("eu-hosting", "DE", "", "contact", "name", "online-identifier"),
		newSubprocessor("us-mailer", "US", privacyv1alpha1.TransferSCC, "contact", "name"),
		newSubprocessor("us-unlawful", "US", privacyv1alpha1.TransferNone, "contact", "name"),
	} {
		if err := env.Client.Create(ctx, sp); err != nil {
			t.Fatal(err)
		}
	}
	categories := []privacyv1alpha1.Category{"contact", "name"}
	cases := []struct {
		name       string
		hostedBy   []string
		categories []privacyv1alpha1.Category
		compliant  metav1.ConditionStatus
		reason     string
		message    string
		disclosed  metav1.ConditionStatus
		disclosure string
	}{
		{"all compliant and disclosed", []string{"eu-hosting", "us-mailer"}, categories,
			metav1.ConditionTrue, privacyv1alpha1.ReasonAllCompliant, "exists and is compliant", metav1.ConditionTrue, "lists"},
		{"nothing declared", nil, categories,
			metav1.ConditionTrue, privacyv1alpha1.ReasonNoSubprocessors, "hostedBy names no Subprocessor", metav1.ConditionTrue, ""},
		{"a missing Subprocessor", []string{"eu-hosting", "gone-away"}, categories,
			metav1.ConditionFalse, privacyv1alpha1.ReasonSubprocessorMissing, "no Subprocessor named gone-away", metav1.ConditionTrue, ""},
		{"a transfer without mechanism", []string{"us-unlawful", "eu-hosting"}, categories,
			metav1.ConditionFalse, privacyv1alpha1.ReasonSubprocessorNotCompliant, "not compliant: us-unlawful (NoTransferMechanism)", metav1.ConditionTrue, ""},
		{"missing and not compliant", []string{"us-unlawful", "gone-away"}, categories,
			metav1.ConditionFalse, privacyv1alpha1.ReasonSubprocessorMissing, "no Subprocessor named gone-away; not compliant: us-unlawful", metav1.ConditionTrue, ""},
		{"categories the register does not disclose", []string{"eu-hosting", "us-mailer"},
			[]privacyv1alpha1.Category{"contact", "financial", "online-identifier"},
			metav1.ConditionTrue, privacyv1alpha1.ReasonAllCompliant, "", metav1.ConditionFalse,
			"eu-hosting does not list financial; us-mailer does not list financial, online-identifier"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := newGomega(t)
			conds, err := SubprocessorHostingConditions(ctx, env.Client, 4, tc.hostedBy, tc.categories)
			g.Expect(err).NotTo(HaveOccurred())
			var status []metav1.Condition
			SetSubprocessorHostingConditions(&status, conds)
			compliant := meta.FindStatusCondition(status, privacyv1alpha1.ConditionSubprocessorsCompliant)
			g.Expect(compliant).NotTo(BeNil())
			g.Expect(compliant.Status).To(Equal(tc.compliant))
			g.Expect(compliant.Reason).To(Equal(tc.reason))
			g.Expect(compliant.Message).To(ContainSubstring(tc.message))
			g.Expect(compliant.ObservedGeneration).To(Equal(int64(4)))
			disclosed := meta.FindStatusCondition(status, privacyv1alpha1.ConditionCategoriesDisclosed)
			g.Expect(disclosed).NotTo(BeNil())
			g.Expect(disclosed.Status).To(Equal(tc.disclosed))
			g.Expect(disclosed.Message).To(ContainSubstring(tc.disclosure))
		})
	}

	t.Run("DataMap categories", func(t *testing.T) {
		g := newGomega(t)
		dm := &privacyv1alpha1.DataMap{Spec: privacyv1alpha1.DataMapSpec{Tables: []privacyv1alpha1.Table{
			{Name: "customers", Columns: []privacyv1alpha1.Column{{Name: "email", Category: "contact"}, {Name: "full_name", Category: "name"}}},
			{Name: "bookings", Columns: []privacyv1alpha1.Column{{Name: "ip", Category: "online-identifier"}, {Name: "guest", Category: "name"}}},
		}}}
		g.Expect(DataMapCategories(dm)).To(Equal([]privacyv1alpha1.Category{"contact", "name", "online-identifier"}))
	})

	t.Run("a Subprocessor being deleted counts as missing", func(t *testing.T) {
		g := newGomega(t)
		sp := newSubprocessor("leaving", "DE", "")
		sp.Finalizers = []string{"example.com/hold"}
		g.Expect(env.Client.Create(ctx, sp)).To(Succeed())
		g.Expect(env.Client.Delete(ctx, sp)).To(Succeed())
		conds, err := SubprocessorHostingConditions(ctx, env.Client, 1, []string{"leaving"}, categories)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(conds[0].Reason).To(Equal(privacyv1alpha1.ReasonSubprocessorMissing))
	})
}
