package controllers

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	privacyv1alpha1 "github.com/lethe-operator/lethe/api/v1alpha1"
	"github.com/lethe-operator/lethe/internal/notify"
	"github.com/lethe-operator/lethe/internal/register"
	"github.com/lethe-operator/lethe/internal/testenv"
)

// webhook is one subscriber's endpoint: it checks each POST's signature with its own
// HMAC code, and can be told to fail.
type webhook struct {
	name string
	key  []byte

	mu       sync.Mutex
	failing  bool
	failures int
	problems []string
	received []notify.Notification
}

func (w *webhook) ServeHTTP(rw http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.failing {
		w.failures++
		http.Error(rw, "down for maintenance", http.StatusServiceUnavailable)
		return
	}
	mac := hmac.New(sha256.New, w.key)
	mac.Write(body)
	if req.Header.Get("Lethe-Signature-256") != "sha256="+hex.EncodeToString(mac.Sum(nil)) {
		w.problems = append(w.problems, "bad signature")
		http.Error(rw, "bad signature", http.StatusUnauthorized)
		return
	}
	var n notify.Notification
	if err := json.Unmarshal(body, &n); err != nil {
		w.problems = append(w.problems, err.Error())
		http.Error(rw, err.Error(), http.StatusBadRequest)
		return
	}
	rev := strconv.FormatInt(n.Revision, 10)
	if req.Header.Get("Lethe-Revision") != rev || req.Header.Get("Lethe-Delivery") != w.name+"-"+rev ||
		req.Header.Get("Content-Type") != "application/json" || n.Type != "SubprocessorRegisterChanged" {
		w.problems = append(w.problems, "headers "+req.Header.Get("Lethe-Delivery"))
	}
	w.received = append(w.received, n)
}

func (w *webhook) setFailing(failing bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.failing = failing
}

// revisions returns the revisions received, in arrival order.
func (w *webhook) revisions() []int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	revs := []int64{}
	for _, n := range w.received {
		revs = append(revs, n.Revision)
	}
	return revs
}

func (w *webhook) failed() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.failures
}

func (w *webhook) notification(revision int64) notify.Notification {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, n := range w.received {
		if n.Revision == revision {
			return n
		}
	}
	return notify.Notification{}
}

// deliveryState reads the delivery state the manager keeps in the cluster.
func deliveryState(g Gomega, env *testenv.Env) (*notify.State, *corev1.ConfigMap) {
	cm := &corev1.ConfigMap{}
	key := client.ObjectKey{Namespace: subprocessorNamespace, Name: DefaultSubprocessorRegister + "-deliveries"}
	g.Expect(env.Client.Get(context.Background(), key, cm)).To(Succeed())
	state, err := notify.ParseState(cm.Data[DeliveryStateKey])
	g.Expect(err).NotTo(HaveOccurred())
	return state, cm
}

// TestSubprocessorNotifications sends the register's changes to three webhooks: one
// that works, one that fails then recovers (twice), and one misconfigured then fixed.
// Between revisions 3 and 4 the manager is stopped, things change, and a new manager
// resumes. Every subscriber ends with every revision exactly once, in order, signed.
func TestSubprocessorNotifications(t *testing.T) {
	env := startSubprocessorEnv(t)
	ctx := context.Background()
	crm := &webhook{name: "crm", key: []byte("crm-signing-key")}
	legal := &webhook{name: "legal", key: []byte("legal-signing-key"), failing: true}
	audit := &webhook{name: "audit", key: []byte("audit-signing-key")}
	mux := http.NewServeMux()
	for _, w := range []*webhook{crm, legal, audit} {
		mux.Handle("/"+w.name, w)
	}
	server := httptest.NewServer(mux)
	t.Cleanup(server.Close)
	subscribers := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: subprocessorNamespace, Name: DefaultSubprocessorSubscribers},
		StringData: map[string]string{
			"crm.url": server.URL + "/crm", "crm.secret": string(crm.key),
			"legal.url": server.URL + "/legal", "legal.secret": string(legal.key),
			// audit's signing key is missing: it is reported, and waits.
			"audit.url": server.URL + "/audit",
		},
	}
	g := newGomega(t)
	g.Expect(env.Client.Create(ctx, subscribers)).To(Succeed())
	stop := startSubprocessorManager(t, env)

	mailer := newSubprocessor("mailer", "US", privacyv1alpha1.TransferSCC)
	t.Run("a failing subscriber does not hold back the others", func(t *testing.T) {
		g := newGomega(t)
		g.Expect(env.Client.Create(ctx, mailer)).To(Succeed())
		g.Eventually(crm.revisions).Should(Equal([]int64{1}))
		g.Eventually(legal.failed).Should(BeNumerically(">=", 2), "legal is retried")
		g.Eventually(func(g Gomega) []string {
			return eventNotes(g, env.Client, subprocessorNamespace, privacyv1alpha1.ReasonNotificationFailed)
		}).Should(ContainElement(MatchRegexp(`delivering revision 1 to subscriber legal failed \(attempt \d+, .*503`)))
		g.Eventually(func(g Gomega) []string {
			return eventNotes(g, env.Client, subprocessorNamespace, privacyv1alpha1.ReasonSubscriberInvalid)
		}).Should(ContainElement("Secret lethe-system/lethe-subprocessor-subscribers: subscriber audit: key audit.secret is missing or empty: it holds the signing key"))

		g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(mailer), mailer)).To(Succeed())
		mailer.Spec.Country = "DE"
		g.Expect(env.Client.Update(ctx, mailer)).To(Succeed())
		g.Eventually(crm.revisions).Should(Equal([]int64{1, 2}))
		g.Eventually(func(g Gomega) string {
			_, cm := deliveryState(g, env)
			return cm.Annotations[AnnotationSubscribersBehind]
		}).Should(Equal("audit,legal"))
	})

	t.Run("a recovered subscriber receives what it missed, in order", func(t *testing.T) {
		g := newGomega(t)
		legal.setFailing(false)
		g.Eventually(legal.revisions).Should(Equal([]int64{1, 2}))
		g.Eventually(func(g Gomega) []string {
			return eventNotes(g, env.Client, subprocessorNamespace, privacyv1alpha1.ReasonNotificationDelivered)
		}).Should(ContainElement(ContainSubstring("revisions 1 to 2 to subscriber legal")))
	})

	t.Run("deliveries resume after a manager restart", func(t *testing.T) {
		g := newGomega(t)
		legal.setFailing(true)
		g.Expect(env.Client.Create(ctx, newSubprocessor("cdn", "US", privacyv1alpha1.TransferAdequacy, "online-identifier"))).To(Succeed())
		g.Eventually(crm.revisions).Should(Equal([]int64{1, 2, 3}))
		failures := legal.failed()
		g.Eventually(legal.failed).Should(BeNumerically(">", failures))
		// Stop only once crm's progress is saved, so nothing is in flight for it.
		g.Eventually(func(g Gomega) int64 {
			state, _ := deliveryState(g, env)
			return state.Subscribers["crm"].Delivered
		}).Should(Equal(int64(3)))
		stop()

		// While the manager is down: a deletion, an edit, legal recovers, audit is fixed.
		g.Expect(env.Client.Delete(ctx, mailer)).To(Succeed())
		cdn := &privacyv1alpha1.Subprocessor{}
		g.Expect(env.Client.Get(ctx, client.ObjectKey{Name: "cdn"}, cdn)).To(Succeed())
		cdn.Spec.Purpose = "web application firewall"
		g.Expect(env.Client.Update(ctx, cdn)).To(Succeed())
		legal.setFailing(false)
		g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(subscribers), subscribers)).To(Succeed())
		subscribers.Data["audit.secret"] = audit.key
		g.Expect(env.Client.Update(ctx, subscribers)).To(Succeed())

		startSubprocessorManager(t, env)
		g.Eventually(crm.revisions).Should(Equal([]int64{1, 2, 3, 4}))
		g.Eventually(legal.revisions).Should(Equal([]int64{1, 2, 3, 4}))
		g.Eventually(audit.revisions).Should(Equal([]int64{1, 2, 3, 4}))
		g.Eventually(func(g Gomega) {
			state, cm := deliveryState(g, env)
			g.Expect(cm.Annotations).To(HaveKeyWithValue(AnnotationSubscribersBehind, ""))
			g.Expect(state.Pending).To(BeEmpty(), "delivered history is pruned")
		}).Should(Succeed())
	})

	t.Run("each notification carries its diff", func(t *testing.T) {
		g := newGomega(t)
		for _, w := range []*webhook{crm, legal, audit} {
			w.mu.Lock()
			g.Expect(w.problems).To(BeEmpty(), w.name)
			w.mu.Unlock()
		}
		one, two, three, four := crm.notification(1), crm.notification(2), crm.notification(3), crm.notification(4)
		g.Expect(one.Source).To(Equal("lethe-system/lethe-subprocessor-register"))
		g.Expect(one.PreviousRevision).To(Equal(int64(0)))
		g.Expect(one.Changes.Summary()).To(Equal("added mailer"))
		g.Expect(one.Changes.Added[0].Country).To(Equal("US"))

		g.Expect(two.PreviousRevision).To(Equal(int64(1)))
		g.Expect(two.Changes.Changed).To(HaveLen(1))
		g.Expect(two.Changes.Changed[0].Fields).To(Equal([]register.FieldChange{{Field: "country", From: "US", To: "DE"}}))

		g.Expect(three.Changes.Summary()).To(Equal("added cdn"))
		g.Expect(four.PreviousRevision).To(Equal(int64(3)))
		g.Expect(four.Changes.Summary()).To(Equal("removed mailer; changed cdn (purpose)"))
		g.Expect(four.Changes.Removed[0].Country).To(Equal("DE"))
		g.Expect(four.Changes.Changed[0].Fields).To(Equal([]register.FieldChange{
			{Field: "purpose", From: "processes bookings for cdn", To: "web application firewall"}}))
		reg, _ := readRegister(g, env)
		g.Expect(four.Digest).To(Equal(reg.Digest))

		// Late subscribers get the very same notifications.
		for rev := int64(1); rev <= 4; rev++ {
			g.Expect(legal.notification(rev)).To(Equal(crm.notification(rev)))
			g.Expect(audit.notification(rev)).To(Equal(crm.notification(rev)))
		}
	})

	t.Run("metrics", func(t *testing.T) {
		g := newGomega(t)
		g.Eventually(func(g Gomega) {
			g.Expect(metricValue(g, "lethe_subprocessor_register_revision", nil)).To(Equal(4.0))
			g.Expect(metricValue(g, "lethe_subprocessor_register_entries", nil)).To(Equal(1.0))
			g.Expect(metricValue(g, "lethe_subprocessor_notifications_total", map[string]string{"subscriber": "legal", "result": "failed"})).To(BeNumerically(">=", 2))
			g.Expect(metricValue(g, "lethe_subprocessor_notifications_total", map[string]string{"subscriber": "audit", "result": "delivered"})).To(Equal(4.0))
			for _, name := range []string{"crm", "legal", "audit"} {
				g.Expect(metricValue(g, "lethe_subprocessor_undelivered_revisions", map[string]string{"subscriber": name})).To(Equal(0.0), name)
			}
		}).Should(Succeed())
	})
}

// metricValue returns the value of the metric with name and labels from the manager's
// registry; it fails when there is none.
func metricValue(g Gomega, name string, labels map[string]string) float64 {
	families, err := metrics.Registry.Gather()
	g.Expect(err).NotTo(HaveOccurred())
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			if len(have) != len(labels) || !hasAll(have, labels) {
				continue
			}
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	g.Expect(fmt.Sprintf("%s%v", name, labels)).To(BeEmpty(), "no such metric")
	return 0
}

// TestSubprocessorNotificationsBacklog lets a subscriber miss more revisions than one
// pass delivers, and checks it gets all of them, once each and in order, after it recovers.
func TestSubprocessorNotificationsBacklog(t *testing.T) {
	env := startSubprocessorEnv(t)
	ctx := context.Background()
	g := newGomega(t)
	hook := &webhook{name: "archive", key: []byte("archive-key"), failing: true}
	server := httptest.NewServer(hook)
	t.Cleanup(server.Close)
	g.Expect(env.Client.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: subprocessorNamespace, Name: DefaultSubprocessorSubscribers},
		StringData: map[string]string{"archive.url": server.URL, "archive.secret": string(hook.key)},
	})).To(Succeed())
	startSubprocessorManager(t, env)

	sp := newSubprocessor("mailer", "DE", "")
	g.Expect(env.Client.Create(ctx, sp)).To(Succeed())
	waitForRevision(t, env, 1)
	backlog := int64(maxDeliveriesPerPass + 5)
	for rev := int64(2); rev <= backlog; rev++ {
		g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(sp), sp)).To(Succeed())
		sp.Spec.Purpose = fmt.Sprintf("purpose %d", rev)
		g.Expect(env.Client.Update(ctx, sp)).To(Succeed())
		waitForRevision(t, env, rev)
	}
	hook.setFailing(false)
	want := []int64{}
	for rev := int64(1); rev <= backlog; rev++ {
		want = append(want, rev)
	}
	g.Eventually(hook.revisions).Should(Equal(want))
	g.Expect(hook.notification(backlog).Changes.Changed[0].Fields[0].To).To(Equal(fmt.Sprintf("purpose %d", backlog)))
}
