package e2e

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	privacyv1alpha1 "github.com/lethe-operator/lethe/api/v1alpha1"
	"github.com/lethe-operator/lethe/internal/testdb"
)

func TestSchemaVerificationPostgres(t *testing.T) { testSchemaVerification(t, postgres, "verify_pg") }

func TestSchemaVerificationMariaDB(t *testing.T) { testSchemaVerification(t, mariadb, "verify_maria") }

// testSchemaVerification applies the sample DataMap and a TenantDatabase, sees the schema
// verified, drops a mapped column, asks for re-verification and sees the column named.
func testSchemaVerification(t *testing.T, server *testdb.Server, database string) {
	g := NewWithT(t)
	startManager(t)
	ns := newNamespace(t, "verify")
	db := newDatabase(t, server, database)
	credentialsSecret(t, ns, "tenant-db", server)
	applySample(t, "privacy_v1alpha1_datamap.yaml", ns, nil)
	applySample(t, "privacy_v1alpha1_tenantdatabase.yaml", ns, tenantDatabaseSpec(server, database, "tenant-db"))

	tdb := &privacyv1alpha1.TenantDatabase{}
	tdb.Name, tdb.Namespace = "hotel-aurora", ns
	g.Eventually(func(g Gomega) {
		c := condition(g, tdb, privacyv1alpha1.ConditionSchemaVerified)
		g.Expect(c).NotTo(BeNil())
		g.Expect(c.Status).To(Equal(metav1.ConditionTrue), c.Message)
		g.Expect(condition(g, tdb, privacyv1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionTrue))
		g.Expect(tdb.Status.ObservedGeneration).To(Equal(tdb.Generation))
	}, eventually).Should(Succeed())

	dm := &privacyv1alpha1.DataMap{}
	dm.Name, dm.Namespace = "booking-app", ns
	g.Eventually(func(g Gomega) {
		g.Expect(condition(g, dm, privacyv1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionTrue))
		g.Expect(dm.Status.UsedBy).To(BeEquivalentTo(1))
	}, eventually).Should(Succeed())

	if _, err := db.Exec("ALTER TABLE customers DROP COLUMN full_name"); err != nil {
		t.Fatal(err)
	}
	g.Expect(setAnnotation(tdb, privacyv1alpha1.VerifyNowAnnotation, "after-drop")).To(Succeed())
	g.Eventually(func(g Gomega) {
		c := condition(g, tdb, privacyv1alpha1.ConditionSchemaVerified)
		g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
		g.Expect(c.Reason).To(Equal(privacyv1alpha1.ReasonSchemaMismatch))
		g.Expect(c.Message).To(ContainSubstring("customers.full_name"))
		g.Expect(tdb.Status.Mismatches).To(ContainElement(And(
			HaveField("Table", "customers"), HaveField("Column", "full_name"))))
	}, eventually).Should(Succeed())
}

// TestDistinctReasons: a missing DataMap, a missing Secret and an unreachable database
// each say so in their own words.
func TestDistinctReasons(t *testing.T) {
	g := NewWithT(t)
	startManager(t)
	ns := newNamespace(t, "reasons")
	applySample(t, "privacy_v1alpha1_tenantdatabase.yaml", ns, tenantDatabaseSpec(postgres, "lethe", "tenant-db"))
	tdb := &privacyv1alpha1.TenantDatabase{}
	tdb.Name, tdb.Namespace = "hotel-aurora", ns

	expectStalled := func(reason, says string) {
		g.Eventually(func(g Gomega) {
			c := condition(g, tdb, privacyv1alpha1.ConditionReady)
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(c.Reason).To(Equal(reason))
			g.Expect(c.Message).To(ContainSubstring(says))
		}, eventually).Should(Succeed())
	}
	expectStalled(privacyv1alpha1.ReasonDataMapNotFound, `DataMap "booking-app" not found`)

	applySample(t, "privacy_v1alpha1_datamap.yaml", ns, nil)
	expectStalled(privacyv1alpha1.ReasonSecretNotFound, `Secret "tenant-db" not found`)

	credentialsSecret(t, ns, "tenant-db", postgres)
	closed := closedPort(t)
	g.Expect(patchSpec(tdb, func(s *privacyv1alpha1.TenantDatabaseSpec) { s.Port = int32(closed) })).To(Succeed())
	g.Eventually(func(g Gomega) {
		c := condition(g, tdb, privacyv1alpha1.ConditionReady)
		g.Expect(c.Reason).To(Equal(privacyv1alpha1.ReasonDatabaseUnreachable), c.Message)
	}, eventually).Should(Succeed())
}

// TestOneJobPerVerification deletes the verification Job while it runs and restarts the
// manager, and checks that there is never more than one Job for the work and that it
// keeps its name.
func TestOneJobPerVerification(t *testing.T) {
	g := NewWithT(t)
	stop := startManager(t)
	ns := newNamespace(t, "onejob")
	hang := hangingServer(t)
	credentialsSecret(t, ns, "tenant-db", postgres)
	applySample(t, "privacy_v1alpha1_datamap.yaml", ns, nil)
	applySample(t, "privacy_v1alpha1_tenantdatabase.yaml", ns, func(spec map[string]any) {
		tenantDatabaseSpec(postgres, "lethe", "tenant-db")(spec)
		spec["port"] = hang
	})

	seen := watchJobs(t, ns)
	firstName := func(g Gomega) string {
		jobs := &batchv1.JobList{}
		g.Expect(env.Client.List(context.Background(), jobs, client.InNamespace(ns))).To(Succeed())
		g.Expect(jobs.Items).To(HaveLen(1))
		return jobs.Items[0].Name
	}
	var name string
	g.Eventually(func(g Gomega) { name = firstName(g) }, eventually).Should(Succeed())

	// Delete the running Job: the controller creates the same work again, under the same name.
	job := &batchv1.Job{}
	job.Name, job.Namespace = name, ns
	g.Expect(env.Client.Delete(context.Background(), job, client.PropagationPolicy(metav1.DeletePropagationBackground))).To(Succeed())
	g.Eventually(func(g Gomega) {
		g.Expect(firstName(g)).To(Equal(name))
		live := &batchv1.Job{}
		g.Expect(env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, live)).To(Succeed())
		g.Expect(live.UID).NotTo(Equal(job.UID))
	}, eventually).Should(Succeed())

	// Restart the manager mid-run: the new one finds the Job and creates none.
	stop()
	startManager(t)
	g.Consistently(func(g Gomega) { g.Expect(firstName(g)).To(Equal(name)) }, 5*time.Second).Should(Succeed())
	g.Expect(seen.maxConcurrent()).To(Equal(1), "never two Jobs for the same verification at once")
	g.Expect(seen.names()).To(ConsistOf(name))
}

func setAnnotation(obj client.Object, key, value string) error {
	patch := []byte(fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, key, value))
	return env.Client.Patch(context.Background(), obj, client.RawPatch("application/merge-patch+json", patch))
}

func patchSpec(tdb *privacyv1alpha1.TenantDatabase, change func(*privacyv1alpha1.TenantDatabaseSpec)) error {
	if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(tdb), tdb); err != nil {
		return err
	}
	base := tdb.DeepCopy()
	change(&tdb.Spec)
	return env.Client.Patch(context.Background(), tdb, client.MergeFrom(base))
}

// closedPort is a loopback port nothing listens on.
func closedPort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

// hangingServer accepts connections and never answers, so a worker connecting to it
// stays running until its deadline.
func hangingServer(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		l.Close()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().(*net.TCPAddr).Port
}

// jobWatch records every Job seen in a namespace and the most that were unfinished at once.
type jobWatch struct {
	mu      sync.Mutex
	live    map[string]bool // name → unfinished
	all     map[string]bool
	maxLive int
}

func watchJobs(t *testing.T, namespace string) *jobWatch {
	t.Helper()
	wc, err := client.NewWithWatch(env.Config, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	w, err := wc.Watch(context.Background(), &batchv1.JobList{}, client.InNamespace(namespace))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	jw := &jobWatch{live: map[string]bool{}, all: map[string]bool{}}
	go func() {
		for ev := range w.ResultChan() {
			job, ok := ev.Object.(*batchv1.Job)
			if !ok {
				continue
			}
			jw.record(job, ev.Type == watch.Deleted)
		}
	}()
	return jw
}

func (jw *jobWatch) record(job *batchv1.Job, deleted bool) {
	jw.mu.Lock()
	defer jw.mu.Unlock()
	jw.all[job.Name] = true
	finished := false
	for _, c := range job.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == "True" {
			finished = true
		}
	}
	if deleted || finished {
		delete(jw.live, job.Name)
	} else {
		jw.live[job.Name] = true
	}
	jw.maxLive = max(jw.maxLive, len(jw.live))
}

func (jw *jobWatch) maxConcurrent() int {
	jw.mu.Lock()
	defer jw.mu.Unlock()
	return jw.maxLive
}

func (jw *jobWatch) names() []string {
	jw.mu.Lock()
	defer jw.mu.Unlock()
	var out []string
	for n := range jw.all {
		out = append(out, n)
	}
	return out
}

// TestHostedByReportsTransfersWithoutLegalBasis: a TenantDatabase hosted by a Subprocessor
// outside the EU/EEA without a transfer mechanism is Stalled and says which one.
func TestHostedByReportsTransfersWithoutLegalBasis(t *testing.T) {
	g := NewWithT(t)
	startManager(t)
	ns := newNamespace(t, "hosted")
	sp := &privacyv1alpha1.Subprocessor{ObjectMeta: metav1.ObjectMeta{Name: "offshore-backups-" + ns},
		Spec: privacyv1alpha1.SubprocessorSpec{LegalName: "Offshore Backups Ltd", Purpose: "Stores backups.",
			Country: "BR", DataCategories: []privacyv1alpha1.Category{"contact"}}}
	sp.Spec.Since = "2025-01-01"
	sp.Spec.DPA.Reference, sp.Spec.DPA.SignedOn = "DPA 2025-01", "2025-01-01"
	g.Expect(env.Client.Create(context.Background(), sp)).To(Succeed())
	credentialsSecret(t, ns, "tenant-db", postgres)
	newDatabase(t, postgres, "hosted_pg")
	applySample(t, "privacy_v1alpha1_datamap.yaml", ns, nil)
	applySample(t, "privacy_v1alpha1_tenantdatabase.yaml", ns, func(spec map[string]any) {
		tenantDatabaseSpec(postgres, "hosted_pg", "tenant-db")(spec)
		spec["hostedBy"] = []any{sp.Name}
	})
	tdb := &privacyv1alpha1.TenantDatabase{}
	tdb.Name, tdb.Namespace = "hotel-aurora", ns
	g.Eventually(func(g Gomega) {
		c := condition(g, tdb, privacyv1alpha1.ConditionSubprocessorsCompliant)
		g.Expect(c).NotTo(BeNil())
		g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
		g.Expect(c.Message).To(ContainSubstring(sp.Name))
		g.Expect(condition(g, tdb, privacyv1alpha1.ConditionStalled).Status).To(Equal(metav1.ConditionTrue))
		g.Expect(condition(g, tdb, privacyv1alpha1.ConditionCategoriesDisclosed).Status).To(Equal(metav1.ConditionFalse))
	}, eventually).Should(Succeed())

	// Standard contractual clauses and the categories listed: compliant, Ready again.
	base := sp.DeepCopy()
	sp.Spec.TransferMechanism = "scc"
	sp.Spec.DataCategories = []privacyv1alpha1.Category{"contact", "name", "demographic", "online-identifier", "location", "free-text"}
	g.Expect(env.Client.Patch(context.Background(), sp, client.MergeFrom(base))).To(Succeed())
	g.Eventually(func(g Gomega) {
		g.Expect(condition(g, tdb, privacyv1alpha1.ConditionSubprocessorsCompliant).Status).To(Equal(metav1.ConditionTrue))
		g.Expect(condition(g, tdb, privacyv1alpha1.ConditionCategoriesDisclosed).Status).To(Equal(metav1.ConditionTrue))
		g.Expect(condition(g, tdb, privacyv1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionTrue))
	}, eventually).Should(Succeed())
}
