package e2e

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	privacyv1alpha1 "github.com/lethe-operator/lethe/api/v1alpha1"
	"github.com/lethe-operator/lethe/controllers"
	"github.com/lethe-operator/lethe/internal/plan"
	"github.com/lethe-operator/lethe/internal/testdb"
)

// erasureCluster is one test's manager, namespaces and captured manager logs.
type erasureCluster struct {
	ns    string
	logs  *lockedBuffer
	clock *shiftedClock
}

// startErasureManager runs the controllers with a 1s coalescing window and retry
// backoff, a fingerprint key in its own operator namespace, a shiftable clock, and the
// manager's logs captured at the most verbose level.
func startErasureManager(t *testing.T, prefix string) *erasureCluster {
	return startErasureManagerWith(t, prefix, true)
}

func startErasureManagerWith(t *testing.T, prefix string, withKey bool) *erasureCluster {
	t.Helper()
	ec := &erasureCluster{ns: newNamespace(t, prefix), logs: &lockedBuffer{}, clock: &shiftedClock{}}
	runManager(t, managerSetup{clock: ec.clock, operatorNamespace: operatorNamespace(t, withKey), logs: ec.logs,
		erasure: controllers.ErasureOptions{Window: time.Second, RetryBackoff: time.Second}})
	t.Cleanup(func() { ec.dumpOnFailure(t) })
	return ec
}

// dumpOnFailure logs the requests' statuses and the Jobs' outcomes of a failed test.
func (ec *erasureCluster) dumpOnFailure(t *testing.T) {
	if !t.Failed() {
		return
	}
	ers := &privacyv1alpha1.ErasureRequestList{}
	_ = env.Client.List(context.Background(), ers, client.InNamespace(ec.ns))
	for _, er := range ers.Items {
		b, _ := json.MarshalIndent(er.Status, "", "  ")
		t.Logf("ErasureRequest %s status:\n%s", er.Name, b)
	}
	for _, line := range strings.Split(ec.logs.String(), "\n") {
		if strings.Contains(line, "ERROR") || strings.Contains(line, "error") {
			t.Log(line)
		}
	}
	pods := &corev1.PodList{}
	_ = env.Client.List(context.Background(), pods, client.InNamespace(ec.ns))
	for _, p := range pods.Items {
		for _, cs := range p.Status.ContainerStatuses {
			if cs.State.Terminated != nil {
				t.Logf("Pod %s: exit %d: %s", p.Name, cs.State.Terminated.ExitCode, cs.State.Terminated.Message)
			}
		}
	}
}

// addDatabase creates a booking database on the server and a TenantDatabase for it,
// and waits for its schema to be verified.
func (ec *erasureCluster) addDatabase(t *testing.T, g Gomega, server *testdb.Server, name, dataMap string) *sql.DB {
	t.Helper()
	sqlName := ec.sqlName(name)
	db := newDatabase(t, server, sqlName)
	ec.addTenantDatabase(t, g, server, name, sqlName, dataMap)
	return db
}

// sqlName is the database name on the server of the TenantDatabase name.
func (ec *erasureCluster) sqlName(name string) string {
	return strings.ReplaceAll(fmt.Sprintf("%s_%s", ec.ns, name), "-", "_")
}

// addTenantDatabase creates a TenantDatabase for an existing database on the server and
// waits for its schema to be verified.
func (ec *erasureCluster) addTenantDatabase(t *testing.T, g Gomega, server *testdb.Server, name, sqlName, dataMap string) {
	t.Helper()
	secret := name + "-login"
	credentialsSecret(t, ec.ns, secret, server)
	tdb := &privacyv1alpha1.TenantDatabase{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ec.ns, Labels: map[string]string{"app": "booking"}},
		Spec: privacyv1alpha1.TenantDatabaseSpec{
			Engine: privacyv1alpha1.Engine(server.Engine), Host: "localhost", Port: int32(server.Port), Database: sqlName,
			CredentialsSecretRef: privacyv1alpha1.CredentialsRef{Name: secret},
			TLS: &privacyv1alpha1.DatabaseTLS{Mode: privacyv1alpha1.TLSVerifyFull,
				CASecretRef: &privacyv1alpha1.SecretKeyRef{Name: secret, Key: "ca.crt"}},
			DataMapRef: dataMap,
		},
	}
	g.Expect(env.Client.Create(context.Background(), tdb)).To(Succeed())
	g.Eventually(func(g Gomega) {
		c := condition(g, tdb, privacyv1alpha1.ConditionSchemaVerified)
		g.Expect(c).NotTo(BeNil())
		g.Expect(c.Status).To(Equal(metav1.ConditionTrue), c.Message)
	}, eventually).Should(Succeed())
}

// fileRequest creates the Secret holding the identifier and an ErasureRequest for it.
func (ec *erasureCluster) fileRequest(t *testing.T, name, identityType, identifier string, edit func(*privacyv1alpha1.ErasureRequestSpec)) *privacyv1alpha1.ErasureRequest {
	t.Helper()
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name + "-subject", Namespace: ec.ns},
		Data: map[string][]byte{"value": []byte(identifier)}}
	if err := env.Client.Create(context.Background(), secret); err != nil {
		t.Fatal(err)
	}
	er := &privacyv1alpha1.ErasureRequest{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ec.ns},
		Spec: privacyv1alpha1.ErasureRequestSpec{Subject: privacyv1alpha1.ErasureSubject{
			Type: identityType, SecretRef: privacyv1alpha1.SecretKeyRef{Name: secret.Name, Key: "value"}}},
	}
	if edit != nil {
		edit(&er.Spec)
	}
	if err := env.Client.Create(context.Background(), er); err != nil {
		t.Fatal(err)
	}
	return er
}

func waitComplete(g Gomega, er *privacyv1alpha1.ErasureRequest) {
	g.Eventually(func(g Gomega) {
		c := condition(g, er, privacyv1alpha1.ConditionComplete)
		g.Expect(c).NotTo(BeNil())
		g.Expect(c.Status).To(Equal(metav1.ConditionTrue), "%s: %s", c.Reason, c.Message)
	}, eventually).Should(Succeed())
}

// customerRows is every row linked to one customer, by table and id, as text.
type customerRows map[string]map[int64]map[string]string

var linkedTables = []string{"customers", "bookings", "invoices", "support_tickets"}

// readRows reads every row of the booking tables, keyed by table and id.
func readRows(t *testing.T, db *sql.DB) customerRows {
	t.Helper()
	out := customerRows{}
	for _, table := range linkedTables {
		rows, err := db.Query("SELECT * FROM " + table + " ORDER BY id")
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		out[table] = map[int64]map[string]string{}
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			row := map[string]string{}
			for i, c := range cols {
				switch v := vals[i].(type) {
				case []byte:
					row[c] = string(v)
				case nil:
					row[c] = "NULL"
				default:
					row[c] = fmt.Sprint(v)
				}
			}
			var id int64
			fmt.Sscan(row["id"], &id)
			out[table][id] = row
		}
		rows.Close()
	}
	return out
}

// ofCustomer says whether a row belongs to the customer.
func ofCustomer(table string, row map[string]string, id int64) bool {
	if table == "customers" {
		return row["id"] == fmt.Sprint(id)
	}
	return row["customer_id"] == fmt.Sprint(id)
}

// TestErasureAcrossDatabases erases one customer of the booking sample from two
// PostgreSQL databases and one MariaDB database: customers and bookings anonymized,
// support tickets deleted, invoices under the 7-year hold retained with their date, and
// every other customer's rows unchanged. Afterwards the identifier appears nowhere in the
// cluster or the manager's logs.
func TestErasureAcrossDatabases(t *testing.T) {
	g := NewWithT(t)
	ec := startErasureManager(t, "erase")
	applySample(t, "privacy_v1alpha1_datamap.yaml", ec.ns, nil)
	dbs := map[string]*sql.DB{
		"aurora":   ec.addDatabase(t, g, postgres, "aurora", "booking-app"),
		"borealis": ec.addDatabase(t, g, postgres, "borealis", "booking-app"),
		"cygnus":   ec.addDatabase(t, g, mariadb, "cygnus", "booking-app"),
	}
	const customer, email = 90, "guest90@mail.example"
	before := map[string]customerRows{}
	for name, db := range dbs {
		before[name] = readRows(t, db)
	}

	er := ec.fileRequest(t, "req-0090", "email", email, nil)
	waitComplete(g, er)

	g.Expect(er.Status.Phase).To(Equal(privacyv1alpha1.ErasureComplete))
	g.Expect(er.Status.Databases).To(Equal("3/3"))
	g.Expect(er.Status.SubjectFingerprint).To(MatchRegexp(`^hmac-sha256:[0-9a-f]{64}$`))
	g.Expect(er.Status.Receipt).NotTo(BeNil())
	g.Expect(er.Status.Receipt.Digest).To(HavePrefix("sha256:"))
	g.Expect(er.Status.Receipt.Document).To(ContainSubstring(string(er.UID)))
	g.Expect(condition(g, er, privacyv1alpha1.ConditionDeadlineExceeded).Status).To(Equal(metav1.ConditionFalse))
	g.Expect(er.Status.Deadline.Time).To(BeTemporally("~", er.CreationTimestamp.AddDate(0, 1, 0), 24*time.Hour))

	for name, db := range dbs {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			target := er.Status.GetTarget(name)
			g.Expect(target).NotTo(BeNil())
			g.Expect(target.State).To(Equal(privacyv1alpha1.TargetDone), target.Message)
			checkErased(t, g, name, before[name], readRows(t, db), customer, target)
		})
	}
	checkNoIdentifier(t, g, ec, email)
}

// checkErased compares the rows before and after with the outcomes in status.
func checkErased(t *testing.T, g Gomega, name string, before, after customerRows, customer int64, target *privacyv1alpha1.ErasureTarget) {
	outcomes := map[string]int64{}
	for _, tab := range target.Tables {
		outcomes[tab.Name+"/"+tab.Outcome] = tab.Rows
		if tab.Outcome == plan.OutcomeRetained {
			g.Expect(tab.RetainedUntil).NotTo(BeNil())
			g.Expect(tab.Warning).To(Equal(privacyv1alpha1.ReasonNoRetentionCoverage))
		}
	}
	holdStart := time.Now().AddDate(-7, 0, 0)
	var retained, anonymizedInvoices, bookings, tickets int64
	for _, table := range linkedTables {
		for id, row := range before[table] {
			now, exists := after[table][id]
			if !ofCustomer(table, row, customer) {
				g.Expect(exists).To(BeTrue(), "%s: %s %d of another customer gone", name, table, id)
				g.Expect(now).To(Equal(row), "%s: %s %d of another customer changed", name, table, id)
				continue
			}
			switch table {
			case "customers":
				g.Expect(now["email"]).NotTo(Equal(row["email"]))
				g.Expect(now["full_name"]).NotTo(Equal(row["full_name"]))
				g.Expect(now["phone"]).To(Equal("NULL"))
			case "bookings":
				bookings++
				g.Expect(now["ip_address"]).NotTo(Equal(row["ip_address"]))
			case "support_tickets":
				tickets++
				g.Expect(exists).To(BeFalse(), "%s: support ticket %d not deleted", name, id)
			case "invoices":
				issued, err := time.Parse("2006-01-02", row["issued_at"][:10])
				g.Expect(err).NotTo(HaveOccurred())
				if issued.After(holdStart) {
					retained++
					g.Expect(now).To(Equal(row), "%s: invoice %d under the legal hold changed", name, id)
				} else {
					anonymizedInvoices++
					g.Expect(now["billing_name"]).NotTo(Equal(row["billing_name"]))
				}
			}
		}
	}
	g.Expect(outcomes).To(HaveKeyWithValue("customers/anonymized", int64(1)))
	g.Expect(outcomes).To(HaveKeyWithValue("bookings/anonymized", bookings))
	g.Expect(outcomes).To(HaveKeyWithValue("support_tickets/deleted", tickets))
	g.Expect(outcomes).To(HaveKeyWithValue("invoices/retained", retained))
	g.Expect(retained).To(BeNumerically(">", 0))
	if anonymizedInvoices > 0 {
		g.Expect(outcomes).To(HaveKeyWithValue("invoices/anonymized", anonymizedInvoices))
	}
}

// checkNoIdentifier searches every Event, ConfigMap, Job, Pod and ErasureRequest of the
// test's namespace, and the manager's logs, for the identifier.
func checkNoIdentifier(t *testing.T, g Gomega, ec *erasureCluster, identifier string) {
	ctx := context.Background()
	lists := []client.ObjectList{
		&corev1.EventList{}, &eventsv1.EventList{}, &corev1.ConfigMapList{}, &batchv1.JobList{},
		&corev1.PodList{}, &privacyv1alpha1.ErasureRequestList{}, &privacyv1alpha1.TenantDatabaseList{},
	}
	var events int
	for _, list := range lists {
		g.Expect(env.Client.List(ctx, list, client.InNamespace(ec.ns))).To(Succeed())
		b, err := json.Marshal(list)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(strings.ToLower(string(b))).NotTo(ContainSubstring(strings.ToLower(identifier)), "%T", list)
		if l, ok := list.(*eventsv1.EventList); ok {
			events += len(l.Items)
		}
		if l, ok := list.(*corev1.EventList); ok {
			events += len(l.Items)
		}
	}
	g.Expect(events).To(BeNumerically(">", 0), "no Events were found to search")
	logs := ec.logs.String()
	g.Expect(logs).NotTo(BeEmpty())
	g.Expect(logs).To(ContainSubstring(`"kind":"erasure"`), "the workers' output is captured too")
	g.Expect(strings.ToLower(logs)).NotTo(ContainSubstring(strings.ToLower(identifier)), "the manager's and workers' logs")
}

// TestErasureNotFound: an identifier no database knows finishes as NotFound with nothing
// changed: Stalled (so Flux and kubectl show it failed, not healthy), not Complete, a
// receipt of the search, and a Warning naming the identity type and the databases searched.
func TestErasureNotFound(t *testing.T) {
	g := NewWithT(t)
	ec := startErasureManager(t, "notfound")
	applySample(t, "privacy_v1alpha1_datamap.yaml", ec.ns, nil)
	db := ec.addDatabase(t, g, postgres, "aurora", "booking-app")
	before := readRows(t, db)
	er := ec.fileRequest(t, "req-nobody", "email", "nobody@mail.example", nil)
	g.Eventually(func(g Gomega) {
		g.Expect(env.Client.Get(context.Background(), client.ObjectKeyFromObject(er), er)).To(Succeed())
		g.Expect(er.Status.Phase).To(Equal(privacyv1alpha1.ErasureNotFound))
	}, eventually).Should(Succeed())
	stalled := condition(g, er, privacyv1alpha1.ConditionStalled)
	g.Expect(stalled.Status).To(Equal(metav1.ConditionTrue))
	g.Expect(stalled.Reason).To(Equal(privacyv1alpha1.ReasonSubjectNotFound))
	g.Expect(condition(g, er, privacyv1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionFalse))
	g.Expect(condition(g, er, privacyv1alpha1.ConditionComplete).Status).To(Equal(metav1.ConditionFalse))
	g.Expect(er.Status.GetTarget("aurora").State).To(Equal(privacyv1alpha1.TargetNotFound))
	g.Expect(er.Status.Receipt).NotTo(BeNil())
	g.Eventually(func(g Gomega) {
		note := warningNote(g, er.Namespace, er.Name, privacyv1alpha1.ReasonSubjectNotFound)
		g.Expect(note).To(ContainSubstring("email identifier"))
		g.Expect(note).To(ContainSubstring("searched: aurora"))
	}, eventually).Should(Succeed())
	g.Expect(readRows(t, db)).To(Equal(before))
}

// warningNote is the note of the Warning Event with this reason about the object ("" if none).
func warningNote(g Gomega, ns, name, reason string) string {
	list := &eventsv1.EventList{}
	g.Expect(env.Client.List(context.Background(), list, client.InNamespace(ns))).To(Succeed())
	for _, e := range list.Items {
		if e.Regarding.Name == name && e.Type == corev1.EventTypeWarning && e.Reason == reason {
			return e.Note
		}
	}
	return ""
}

// TestErasureAmbiguous: an identity type on a non-unique column matches 200 customers:
// nothing changes and the request needs information.
func TestErasureAmbiguous(t *testing.T) {
	g := NewWithT(t)
	ec := startErasureManager(t, "ambiguous")
	applySample(t, "privacy_v1alpha1_datamap.yaml", ec.ns, func(spec map[string]any) {
		customers := spec["tables"].([]any)[0].(map[string]any)
		customers["identifiers"].(map[string]any)["country"] = "country"
	})
	db := ec.addDatabase(t, g, postgres, "aurora", "booking-app")
	before := readRows(t, db)
	er := ec.fileRequest(t, "req-dk", "country", "DK", nil)
	g.Eventually(func(g Gomega) {
		c := condition(g, er, privacyv1alpha1.ConditionNeedsInformation)
		g.Expect(c).NotTo(BeNil())
		g.Expect(c.Status).To(Equal(metav1.ConditionTrue))
		g.Expect(c.Reason).To(Equal(privacyv1alpha1.ReasonAmbiguousSubject))
	}, eventually).Should(Succeed())
	g.Expect(er.Status.Phase).To(Equal(privacyv1alpha1.ErasureNeedsInformation))
	g.Expect(er.Status.GetTarget("aurora").State).To(Equal(privacyv1alpha1.TargetAmbiguous))
	g.Expect(condition(g, er, privacyv1alpha1.ConditionComplete).Status).To(Equal(metav1.ConditionFalse))
	g.Expect(readRows(t, db)).To(Equal(before))
}

// TestErasureApproval: a request needing approval previews the counts and changes
// nothing until approved, then runs.
func TestErasureApproval(t *testing.T) {
	g := NewWithT(t)
	ec := startErasureManager(t, "approval")
	applySample(t, "privacy_v1alpha1_datamap.yaml", ec.ns, nil)
	db := ec.addDatabase(t, g, postgres, "aurora", "booking-app")
	before := readRows(t, db)
	er := ec.fileRequest(t, "req-0042", "email", "guest42@mail.example", func(s *privacyv1alpha1.ErasureRequestSpec) {
		s.Approval = &privacyv1alpha1.Approval{Required: true}
	})
	g.Eventually(func(g Gomega) {
		c := condition(g, er, privacyv1alpha1.ConditionAwaitingApproval)
		g.Expect(c).NotTo(BeNil())
		g.Expect(c.Status).To(Equal(metav1.ConditionTrue), c.Message)
	}, eventually).Should(Succeed())
	g.Expect(er.Status.Phase).To(Equal(privacyv1alpha1.ErasureAwaitingApproval))
	target := er.Status.GetTarget("aurora")
	g.Expect(target.State).To(Equal(privacyv1alpha1.TargetPreviewed))
	g.Expect(target.Tables).To(ContainElements(
		And(HaveField("Name", "customers"), HaveField("Outcome", plan.OutcomeWouldAnonymize), HaveField("Rows", int64(1))),
		And(HaveField("Name", "support_tickets"), HaveField("Outcome", plan.OutcomeWouldDelete)),
	))
	g.Expect(readRows(t, db)).To(Equal(before), "a preview changes nothing")

	g.Expect(patchRequest(er, func(s *privacyv1alpha1.ErasureRequestSpec) { s.Approval.Approved = true })).To(Succeed())
	waitComplete(g, er)
	g.Expect(condition(g, er, privacyv1alpha1.ConditionApproved).Status).To(Equal(metav1.ConditionTrue))
	g.Expect(er.Status.GetTarget("aurora").Tables).To(ContainElement(
		And(HaveField("Name", "customers"), HaveField("Outcome", plan.OutcomeAnonymized), HaveField("Rows", int64(1)))))
	g.Expect(readRows(t, db)["customers"][42]["email"]).NotTo(Equal("guest42@mail.example"))
}

func patchRequest(er *privacyv1alpha1.ErasureRequest, change func(*privacyv1alpha1.ErasureRequestSpec)) error {
	return patchRequestAs(env.Client, er, change)
}

func patchRequestAs(c client.Client, er *privacyv1alpha1.ErasureRequest, change func(*privacyv1alpha1.ErasureRequestSpec)) error {
	if err := c.Get(context.Background(), client.ObjectKeyFromObject(er), er); err != nil {
		return err
	}
	base := er.DeepCopy()
	change(&er.Spec)
	return c.Patch(context.Background(), er, client.MergeFrom(base))
}

// TestErasureCoalescing: five requests for one database filed at once share one Job.
func TestErasureCoalescing(t *testing.T) {
	g := NewWithT(t)
	ec := startErasureManager(t, "coalesce")
	applySample(t, "privacy_v1alpha1_datamap.yaml", ec.ns, nil)
	db := ec.addDatabase(t, g, postgres, "aurora", "booking-app")
	var requests []*privacyv1alpha1.ErasureRequest
	for i := 101; i <= 105; i++ {
		requests = append(requests, ec.fileRequest(t, fmt.Sprintf("req-%d", i), "email", fmt.Sprintf("guest%d@mail.example", i), nil))
	}
	for _, er := range requests {
		waitComplete(g, er)
	}
	jobs := &batchv1.JobList{}
	g.Expect(env.Client.List(context.Background(), jobs, client.InNamespace(ec.ns),
		client.MatchingLabels{controllers.LabelPlanKind: string(plan.KindErasure)})).To(Succeed())
	g.Expect(jobs.Items).To(HaveLen(1))
	for _, er := range requests {
		g.Expect(er.Status.GetTarget("aurora").Job).To(Equal(jobs.Items[0].Name))
	}
	rows := readRows(t, db)
	for i := int64(101); i <= 105; i++ {
		g.Expect(rows["customers"][i]["email"]).NotTo(Equal(fmt.Sprintf("guest%d@mail.example", i)))
	}
}

// TestErasureDeadlineExceeded moves the manager's clock past the deadline of a request
// waiting for approval: DeadlineExceeded and a Warning Event.
func TestErasureDeadlineExceeded(t *testing.T) {
	g := NewWithT(t)
	ec := startErasureManager(t, "deadline")
	er := ec.fileRequest(t, "req-late", "email", "late@mail.example", func(s *privacyv1alpha1.ErasureRequestSpec) {
		s.Approval = &privacyv1alpha1.Approval{Required: true}
		s.DeadlineExtension = &privacyv1alpha1.DeadlineExtension{Months: 1, Reason: "many requests this month"}
	})
	g.Eventually(func(g Gomega) {
		c := condition(g, er, privacyv1alpha1.ConditionDeadlineExceeded)
		g.Expect(c).NotTo(BeNil())
		g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
		g.Expect(er.Status.Deadline.Time).To(BeTemporally("~", er.CreationTimestamp.AddDate(0, 2, 0), 72*time.Hour))
	}, eventually).Should(Succeed())

	ec.clock.shift(63 * 24 * time.Hour)
	g.Expect(setAnnotation(er, "test/touch", "1")).To(Succeed())
	g.Eventually(func(g Gomega) {
		c := condition(g, er, privacyv1alpha1.ConditionDeadlineExceeded)
		g.Expect(c.Status).To(Equal(metav1.ConditionTrue))
		g.Expect(c.Reason).To(Equal(privacyv1alpha1.ReasonDeadlinePassed))
		g.Expect(eventReasons(g, ec.ns, er.Name)).To(ContainElement(privacyv1alpha1.ReasonDeadlinePassed))
	}, eventually).Should(Succeed())
}

func eventReasons(g Gomega, ns, name string) []string {
	list := &eventsv1.EventList{}
	g.Expect(env.Client.List(context.Background(), list, client.InNamespace(ns))).To(Succeed())
	var out []string
	for _, e := range list.Items {
		if e.Regarding.Name == name {
			out = append(out, e.Reason)
		}
	}
	core := &corev1.EventList{}
	g.Expect(env.Client.List(context.Background(), core, client.InNamespace(ns))).To(Succeed())
	for _, e := range core.Items {
		if e.InvolvedObject.Name == name {
			out = append(out, e.Reason)
		}
	}
	return out
}

// TestErasureSecretsMissing: a missing identifier Secret and a missing fingerprint key
// each stall the request with their own reason.
func TestErasureSecretsMissing(t *testing.T) {
	g := NewWithT(t)
	ec := startErasureManager(t, "secrets")
	er := &privacyv1alpha1.ErasureRequest{
		ObjectMeta: metav1.ObjectMeta{Name: "req-nosecret", Namespace: ec.ns},
		Spec: privacyv1alpha1.ErasureRequestSpec{Subject: privacyv1alpha1.ErasureSubject{
			Type: "email", SecretRef: privacyv1alpha1.SecretKeyRef{Name: "gone", Key: "value"}}},
	}
	g.Expect(env.Client.Create(context.Background(), er)).To(Succeed())
	expectStalled := func(er *privacyv1alpha1.ErasureRequest, reason, says string) {
		g.Eventually(func(g Gomega) {
			c := condition(g, er, privacyv1alpha1.ConditionStalled)
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.Status).To(Equal(metav1.ConditionTrue))
			g.Expect(c.Reason).To(Equal(reason))
			g.Expect(c.Message).To(ContainSubstring(says))
		}, eventually).Should(Succeed())
	}
	expectStalled(er, privacyv1alpha1.ReasonSubjectSecretNotFound, `Secret "gone"`)

	// Fingerprinted, then its Secret deleted: stalled with the same reason.
	ok := ec.fileRequest(t, "req-deleted", "email", "deleted@mail.example", nil)
	g.Eventually(func(g Gomega) {
		g.Expect(env.Client.Get(context.Background(), client.ObjectKeyFromObject(ok), ok)).To(Succeed())
		g.Expect(ok.Status.SubjectFingerprint).NotTo(BeEmpty())
	}, eventually).Should(Succeed())
	g.Expect(env.Client.Delete(context.Background(), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "req-deleted-subject", Namespace: ec.ns}})).To(Succeed())
	g.Expect(setAnnotation(ok, "test/touch", "1")).To(Succeed())
	expectStalled(ok, privacyv1alpha1.ReasonSubjectSecretNotFound, `Secret "req-deleted-subject"`)
}

// TestErasureFingerprintKeyMissing: without the key Secret in the operator's namespace
// no fingerprint is made, and the request says which Secret to create.
func TestErasureFingerprintKeyMissing(t *testing.T) {
	g := NewWithT(t)
	ec := startErasureManagerWith(t, "nokey", false)
	er := ec.fileRequest(t, "req-nokey", "email", "nokey@mail.example", nil)
	g.Eventually(func(g Gomega) {
		c := condition(g, er, privacyv1alpha1.ConditionStalled)
		g.Expect(c).NotTo(BeNil())
		g.Expect(c.Reason).To(Equal(privacyv1alpha1.ReasonFingerprintKeyNotFound))
		g.Expect(c.Message).To(ContainSubstring(controllers.DefaultFingerprintKeySecret))
		g.Expect(er.Status.SubjectFingerprint).To(BeEmpty())
	}, eventually).Should(Succeed())
}

// TestErasureImmutable: the API server refuses changes to what defines a request.
func TestErasureImmutable(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t, "immutable")
	er := &privacyv1alpha1.ErasureRequest{
		ObjectMeta: metav1.ObjectMeta{Name: "req-fixed", Namespace: ns},
		Spec: privacyv1alpha1.ErasureRequestSpec{
			Subject:  privacyv1alpha1.ErasureSubject{Type: "email", SecretRef: privacyv1alpha1.SecretKeyRef{Name: "s", Key: "value"}},
			Approval: &privacyv1alpha1.Approval{Required: true, Approved: false},
		},
	}
	g.Expect(env.Client.Create(context.Background(), er)).To(Succeed())
	refused := []struct {
		change func(*privacyv1alpha1.ErasureRequestSpec)
		says   string
	}{
		{func(s *privacyv1alpha1.ErasureRequestSpec) { s.Subject.Type = "phone" }, "spec.subject is immutable"},
		{func(s *privacyv1alpha1.ErasureRequestSpec) { s.Subject.SecretRef.Name = "other" }, "spec.subject is immutable"},
		{func(s *privacyv1alpha1.ErasureRequestSpec) {
			s.DatabaseSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"a": "b"}}
		}, "spec.databaseSelector is immutable"},
		{func(s *privacyv1alpha1.ErasureRequestSpec) { s.Action = privacyv1alpha1.ActionDelete }, "spec.action is immutable"},
		{func(s *privacyv1alpha1.ErasureRequestSpec) { s.Approval.Required = false }, "spec.approval.required is immutable"},
		{func(s *privacyv1alpha1.ErasureRequestSpec) {
			s.DeadlineExtension = &privacyv1alpha1.DeadlineExtension{Months: 3, Reason: "x"}
		}, "less than or equal to 2"},
		{func(s *privacyv1alpha1.ErasureRequestSpec) {
			s.DeadlineExtension = &privacyv1alpha1.DeadlineExtension{Months: 1}
		}, "spec.deadlineExtension.reason"},
	}
	for _, tt := range refused {
		err := patchRequest(er, tt.change)
		g.Expect(err).To(HaveOccurred(), tt.says)
		g.Expect(err.Error()).To(ContainSubstring(tt.says))
	}
	// Approval goes forward once, and an extension can be added once.
	g.Expect(patchRequest(er, func(s *privacyv1alpha1.ErasureRequestSpec) { s.Approval.Approved = true })).To(Succeed())
	err := patchRequest(er, func(s *privacyv1alpha1.ErasureRequestSpec) { s.Approval.Approved = false })
	g.Expect(err).To(MatchError(ContainSubstring("cannot be taken back")))
	g.Expect(patchRequest(er, func(s *privacyv1alpha1.ErasureRequestSpec) {
		s.DeadlineExtension = &privacyv1alpha1.DeadlineExtension{Months: 2, Reason: "complex request"}
	})).To(Succeed())
	err = patchRequest(er, func(s *privacyv1alpha1.ErasureRequestSpec) { s.DeadlineExtension.Months = 1 })
	g.Expect(err).To(MatchError(ContainSubstring("cannot be changed or removed")))
}

// shiftedClock is the real clock moved forward by an offset the test sets.
type shiftedClock struct{ offset atomic.Int64 }

func (c *shiftedClock) Now() time.Time                  { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *shiftedClock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }
func (c *shiftedClock) shift(d time.Duration)           { c.offset.Add(int64(d)) }

// TestErasureFourEyes installs the admission policy from config/admission (its binding
// narrowed to the test's namespace) and files and approves requests as two users.
func TestErasureFourEyes(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := newNamespace(t, "foureyes")
	installFourEyes(t, ns)
	alice, bob := impersonate(t, ns, "alice"), impersonate(t, ns, "bob")

	request := func(name string, annotations map[string]string, approved bool) *privacyv1alpha1.ErasureRequest {
		return &privacyv1alpha1.ErasureRequest{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Annotations: annotations},
			Spec: privacyv1alpha1.ErasureRequestSpec{
				Subject:  privacyv1alpha1.ErasureSubject{Type: "email", SecretRef: privacyv1alpha1.SecretKeyRef{Name: "s", Key: "value"}},
				Approval: &privacyv1alpha1.Approval{Required: true, Approved: approved},
			},
		}
	}
	// The policy takes a moment to be enforced after it is created.
	g.Eventually(func() error {
		return alice.Create(ctx, request("req-anon", nil, false))
	}, eventually).Should(MatchError(ContainSubstring("set annotation privacy.lethe.dev/requested-by to alice")))
	g.Expect(alice.Create(ctx, request("req-bob", map[string]string{privacyv1alpha1.RequestedByAnnotation: "bob"}, false))).
		To(MatchError(ContainSubstring("requested-by to alice")))
	g.Expect(alice.Create(ctx, request("req-self", map[string]string{privacyv1alpha1.RequestedByAnnotation: "alice"}, true))).
		To(MatchError(ContainSubstring("four eyes")))

	er := request("req-0113", map[string]string{privacyv1alpha1.RequestedByAnnotation: "alice"}, false)
	g.Expect(alice.Create(ctx, er)).To(Succeed())
	approve := func(c client.Client, approvedBy string) error {
		if err := c.Get(ctx, client.ObjectKeyFromObject(er), er); err != nil {
			return err
		}
		base := er.DeepCopy()
		er.Spec.Approval.Approved = true
		er.Annotations[privacyv1alpha1.ApprovedByAnnotation] = approvedBy
		return c.Patch(ctx, er, client.MergeFrom(base))
	}
	g.Expect(approve(alice, "alice")).To(MatchError(ContainSubstring("the user who filed the request cannot approve it")))
	g.Expect(approve(bob, "carol")).To(MatchError(ContainSubstring("approved-by to bob")))
	g.Expect(patchRequestAs(bob, er, func(*privacyv1alpha1.ErasureRequestSpec) {
		er.Annotations[privacyv1alpha1.RequestedByAnnotation] = "bob"
	})).
		To(MatchError(ContainSubstring("requested-by cannot be changed")))
	g.Expect(approve(bob, "bob")).To(Succeed())
	g.Expect(er.Annotations[privacyv1alpha1.ApprovedByAnnotation]).To(Equal("bob"))
	g.Expect(patchRequestAs(alice, er, func(*privacyv1alpha1.ErasureRequestSpec) {
		er.Annotations[privacyv1alpha1.ApprovedByAnnotation] = "alice"
	})).
		To(MatchError(ContainSubstring("approved-by cannot be changed")))
}

// installFourEyes creates the shipped policy and its binding, narrowed to namespace ns
// so the rest of the suite files requests without annotations.
func installFourEyes(t *testing.T, ns string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "config", "admission", "erasurerequest_four_eyes.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range strings.Split(string(b), "\n---\n") {
		obj := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &obj.Object); err != nil {
			t.Fatal(err)
		}
		obj.SetName(obj.GetName() + "-" + ns)
		if obj.GetKind() == "ValidatingAdmissionPolicyBinding" {
			g := obj.Object["spec"].(map[string]any)
			g["policyName"] = g["policyName"].(string) + "-" + ns
			g["matchResources"] = map[string]any{"namespaceSelector": map[string]any{
				"matchLabels": map[string]any{"kubernetes.io/metadata.name": ns}}}
		}
		if err := env.Client.Create(context.Background(), obj); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = env.Client.Delete(context.Background(), obj) })
	}
}

// impersonate returns a client acting as user, allowed to file and approve requests in ns.
func impersonate(t *testing.T, ns, user string) client.Client {
	t.Helper()
	ctx := context.Background()
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "erasure-" + user, Namespace: ns},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{"privacy.lethe.dev"}, Resources: []string{"erasurerequests"},
			Verbs: []string{"get", "list", "create", "update", "patch"}}}}
	binding := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "erasure-" + user, Namespace: ns},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: role.Name},
		Subjects: []rbacv1.Subject{{Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: user}}}
	for _, obj := range []client.Object{role, binding} {
		if err := env.Client.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
	cfg := rest.CopyConfig(env.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user}
	c, err := client.New(cfg, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
