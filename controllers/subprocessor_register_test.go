package controllers

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	privacyv1alpha1 "github.com/lethe-operator/lethe/api/v1alpha1"
	"github.com/lethe-operator/lethe/internal/testenv"
)

// publishedRegister is register.json as a reader sees it: entries kept as raw JSON.
type publishedRegister struct {
	Revision    int64           `json:"revision"`
	Digest      string          `json:"digest"`
	PublishedAt string          `json:"publishedAt"`
	Entries     json.RawMessage `json:"entries"`
}

// readRegister reads the register's ConfigMap and checks what must always hold: the
// digest is the SHA-256 of the compact entries, and the annotations agree with the JSON.
func readRegister(g Gomega, env *testenv.Env) (publishedRegister, *corev1.ConfigMap) {
	cm := &corev1.ConfigMap{}
	g.Expect(env.Client.Get(context.Background(), client.ObjectKey{Namespace: subprocessorNamespace, Name: DefaultSubprocessorRegister}, cm)).To(Succeed())
	var reg publishedRegister
	g.Expect(json.Unmarshal([]byte(cm.Data[RegisterJSONKey]), &reg)).To(Succeed())
	var compact bytes.Buffer
	g.Expect(json.Compact(&compact, reg.Entries)).To(Succeed())
	sum := sha256.Sum256(compact.Bytes())
	g.Expect(reg.Digest).To(Equal("sha256:" + hex.EncodeToString(sum[:])))
	g.Expect(cm.Annotations).To(HaveKeyWithValue(AnnotationDigest, reg.Digest))
	return reg, cm
}

// waitForRevision waits until the register is at revision and returns it.
func waitForRevision(t *testing.T, env *testenv.Env, revision int64) (publishedRegister, *corev1.ConfigMap) {
	t.Helper()
	var reg publishedRegister
	var cm *corev1.ConfigMap
	newGomega(t).Eventually(func(g Gomega) {
		reg, cm = readRegister(g, env)
		g.Expect(reg.Revision).To(Equal(revision))
	}).Should(Succeed())
	return reg, cm
}

// TestSubprocessorRegister adds, edits and deletes Subprocessors and checks register.json,
// register.md, the summary annotations and the Events after each step.
func TestSubprocessorRegister(t *testing.T) {
	env := startSubprocessorEnv(t)
	startSubprocessorManager(t, env)
	ctx := context.Background()

	t.Run("an empty register is revision 0", func(t *testing.T) {
		reg, cm := waitForRevision(t, env, 0)
		g := newGomega(t)
		g.Expect(reg.Entries).To(MatchJSON(`[]`))
		g.Expect(cm.Data[RegisterMarkdownKey]).To(ContainSubstring("There are no subprocessors."))
		g.Expect(cm.Annotations).To(HaveKeyWithValue(AnnotationSubprocessors, "0"))
	})

	sendgrid := newSubprocessor("sendgrid", "US", privacyv1alpha1.TransferSCC, "name", "contact")
	sendgrid.Spec.Services = []string{"e-mail delivery"}
	sendgrid.Spec.Contact = "privacy@twilio.example"
	t.Run("add", func(t *testing.T) {
		g := newGomega(t)
		g.Expect(env.Client.Create(ctx, sendgrid)).To(Succeed())
		reg, _ := waitForRevision(t, env, 1)
		g.Expect(reg.PublishedAt).NotTo(BeEmpty())
		g.Expect(reg.Entries).To(MatchJSON(`[{
			"name": "sendgrid", "legalName": "sendgrid Ltd", "purpose": "processes bookings for sendgrid",
			"services": ["e-mail delivery"], "country": "US", "transferMechanism": "scc",
			"dataCategories": ["contact", "name"], "dpa": {"reference": "DPA-sendgrid", "signedOn": "2024-12-01"},
			"contact": "privacy@twilio.example", "since": "2025-01-01"}]`))

		g.Expect(env.Client.Create(ctx, newSubprocessor("azure", "IE", ""))).To(Succeed())
		reg, cm := waitForRevision(t, env, 2)
		g.Expect(reg.Entries).To(MatchJSON(`[{
			"name": "azure", "legalName": "azure Ltd", "purpose": "processes bookings for azure",
			"country": "IE", "transferMechanism": "none", "dataCategories": ["contact"],
			"dpa": {"reference": "DPA-azure", "signedOn": "2024-12-01"}, "since": "2025-01-01"}, {
			"name": "sendgrid", "legalName": "sendgrid Ltd", "purpose": "processes bookings for sendgrid",
			"services": ["e-mail delivery"], "country": "US", "transferMechanism": "scc",
			"dataCategories": ["contact", "name"], "dpa": {"reference": "DPA-sendgrid", "signedOn": "2024-12-01"},
			"contact": "privacy@twilio.example", "since": "2025-01-01"}]`))
		g.Expect(cm.Annotations).To(HaveKeyWithValue(AnnotationSubprocessors, "2"))
		g.Expect(cm.Data[RegisterMarkdownKey]).To(ContainSubstring(
			"| azure | azure Ltd | processes bookings for azure |  | IE | none | contact | DPA-azure, signed 2024-12-01 |  | 2025-01-01 |  |\n" +
				"| sendgrid | sendgrid Ltd |"))
	})

	t.Run("edit", func(t *testing.T) {
		g := newGomega(t)
		g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(sendgrid), sendgrid)).To(Succeed())
		sendgrid.Spec.TransferMechanism = privacyv1alpha1.TransferBCR
		sendgrid.Spec.DataCategories = append(sendgrid.Spec.DataCategories, "online-identifier")
		sendgrid.Spec.Until = "2026-12-31"
		g.Expect(env.Client.Update(ctx, sendgrid)).To(Succeed())
		reg, _ := waitForRevision(t, env, 3)
		g.Expect(string(reg.Entries)).To(ContainSubstring(`"transferMechanism": "bcr"`))
		g.Expect(string(reg.Entries)).To(ContainSubstring(`"until": "2026-12-31"`))
	})

	t.Run("delete, after an edit that changes nothing", func(t *testing.T) {
		g := newGomega(t)
		// Reordering a set changes the generation, not the register's content.
		g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(sendgrid), sendgrid)).To(Succeed())
		sendgrid.Spec.DataCategories = []privacyv1alpha1.Category{"online-identifier", "name", "contact"}
		g.Expect(env.Client.Update(ctx, sendgrid)).To(Succeed())
		g.Expect(env.Client.Delete(ctx, newSubprocessor("azure", "IE", ""))).To(Succeed())
		// Revision 4 is the deletion alone: the reordering made no revision.
		reg, cm := waitForRevision(t, env, 4)
		g.Expect(string(reg.Entries)).NotTo(ContainSubstring("azure"))
		md := cm.Data[RegisterMarkdownKey]
		g.Expect(md).To(HavePrefix("# Subprocessors\n\nRevision 4, published "))
		g.Expect(md).To(ContainSubstring(". Content digest `" + reg.Digest + "`.\n\n"))
		g.Expect(md).To(HaveSuffix(
			"| Subprocessor | Legal name | Purpose | Services | Country | Transfer mechanism | Data categories | DPA | Contact | Since | Until |\n" +
				"|---|---|---|---|---|---|---|---|---|---|---|\n" +
				"| sendgrid | sendgrid Ltd | processes bookings for sendgrid | e-mail delivery | US | binding corporate rules (GDPR Art. 47) | contact, name, online-identifier | DPA-sendgrid, signed 2024-12-01 | privacy@twilio.example | 2025-01-01 | 2026-12-31 |\n"))
		g.Expect(cm.Annotations).To(HaveKeyWithValue(AnnotationRevision, "4"))
		g.Expect(cm.Annotations).To(HaveKeyWithValue(AnnotationSubprocessors, "1"))
		g.Expect(cm.Annotations).To(HaveKeyWithValue(AnnotationNotCompliant, ""))
	})

	t.Run("each revision is an Event", func(t *testing.T) {
		g := newGomega(t)
		g.Eventually(func(g Gomega) []string {
			return eventNotes(g, env.Client, subprocessorNamespace, privacyv1alpha1.ReasonRegisterChanged)
		}).Should(ConsistOf(
			"revision 1: added sendgrid",
			"revision 2: added azure",
			"revision 3: changed sendgrid (transferMechanism, dataCategories, until)",
			"revision 4: removed azure",
		))
		g.Eventually(func(g Gomega) []string {
			return eventNotes(g, env.Client, "default", privacyv1alpha1.ReasonPublished)
		}).Should(ContainElements(
			"added to the register in revision 1",
			"changed in the register in revision 3: transferMechanism, dataCategories, until",
		))
	})

	t.Run("a hand edit or deletion is undone without a new revision", func(t *testing.T) {
		g := newGomega(t)
		_, cm := readRegister(g, env)
		want := cm.Data[RegisterMarkdownKey]
		cm.Data[RegisterMarkdownKey] = "# edited by hand\n"
		g.Expect(env.Client.Update(ctx, cm)).To(Succeed())
		g.Eventually(func(g Gomega) string {
			_, cm := readRegister(g, env)
			return cm.Data[RegisterMarkdownKey]
		}).Should(Equal(want))

		g.Expect(env.Client.Delete(ctx, cm)).To(Succeed())
		g.Eventually(func(g Gomega) string {
			_, again := readRegister(g, env)
			g.Expect(again.UID).NotTo(Equal(cm.UID))
			return again.Data[RegisterMarkdownKey]
		}).Should(Equal(want))
		waitForRevision(t, env, 4)
	})

	t.Run("a lost delivery state restarts from the published register", func(t *testing.T) {
		g := newGomega(t)
		deliveries := &corev1.ConfigMap{}
		key := client.ObjectKey{Namespace: subprocessorNamespace, Name: DefaultSubprocessorRegister + "-deliveries"}
		g.Expect(env.Client.Get(ctx, key, deliveries)).To(Succeed())
		g.Expect(env.Client.Delete(ctx, deliveries)).To(Succeed())
		g.Expect(env.Client.Create(ctx, newSubprocessor("us-unlawful", "US", privacyv1alpha1.TransferNone))).To(Succeed())
		reg, cm := waitForRevision(t, env, 5)
		g.Expect(strings.Count(string(reg.Entries), `"legalName"`)).To(Equal(2))
		g.Expect(cm.Annotations).To(HaveKeyWithValue(AnnotationNotCompliant, "us-unlawful"))
		g.Eventually(func(g Gomega) []string {
			return eventNotes(g, env.Client, subprocessorNamespace, privacyv1alpha1.ReasonRegisterChanged)
		}).Should(ContainElement("revision 5: added us-unlawful"))
	})
}
