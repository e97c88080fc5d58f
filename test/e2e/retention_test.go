package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	privacyv1alpha1 "github.com/lethe-operator/lethe/api/v1alpha1"
	"github.com/lethe-operator/lethe/internal/testdb"
)

// tenant is one TenantDatabase of the scenario and its database.
type tenant struct {
	name   string
	server *testdb.Server
	db     *sql.DB
	before snapshot
}

// TestRetentionPolicyAcrossFiveDatabases runs the sample RetentionPolicy on five tenant
// databases (three PostgreSQL, two MariaDB) with thousands of rows spread over ten years:
// a dry run, the real run, a second run, and a suspended policy. After each step every row
// of every database is compared with what the rules say.
func TestRetentionPolicyAcrossFiveDatabases(t *testing.T) {
	g := NewWithT(t)
	startManager(t)
	ns := newNamespace(t, "retention")
	loaded := time.Now().UTC()
	applyFile(t, filepath.Join("testdata", "retention_datamap.yaml"), ns)

	var tenants []*tenant
	for i, server := range []*testdb.Server{postgres, mariadb, postgres, mariadb, postgres} {
		tn := &tenant{name: fmt.Sprintf("tenant-%d", i+1), server: server}
		tn.db = loadBookingData(t, server, fmt.Sprintf("retention_%d", i+1), 400+150*i, loaded)
		tn.before = takeSnapshot(t, tn.db)
		credentialsSecret(t, ns, tn.name+"-db", server)
		applySample(t, "privacy_v1alpha1_tenantdatabase.yaml", ns, func(spec map[string]any) {
			tenantDatabaseSpec(server, fmt.Sprintf("retention_%d", i+1), tn.name+"-db")(spec)
		})
		renameLast(t, ns, tn.name)
		tenants = append(tenants, tn)
	}
	applySample(t, "privacy_v1alpha1_retentionpolicy.yaml", ns, func(spec map[string]any) { spec["dryRun"] = true })
	policy := &privacyv1alpha1.RetentionPolicy{}
	policy.Name, policy.Namespace = "booking-retention", ns

	// 1. A dry run counts and changes nothing.
	dry := runNow(g, policy, "dry")
	g.Expect(dry.Result).To(Equal(privacyv1alpha1.RunSucceeded), "%+v", dry)
	g.Expect(dry.Databases).To(HaveLen(5))
	for _, tn := range tenants {
		g.Expect(takeSnapshot(t, tn.db)).To(Equal(tn.before), "a dry run changed %s", tn.name)
	}

	// 2. The real run does what the rules say, row by row, and reports what the dry run said.
	g.Expect(patchPolicy(policy, func(s *privacyv1alpha1.RetentionPolicySpec) { s.DryRun = false })).To(Succeed())
	real := runNow(g, policy, "real")
	g.Expect(real.Result).To(Equal(privacyv1alpha1.RunSucceeded), "%+v", real)
	for _, tn := range tenants {
		want := expectRetention(tn.before, real.ScheduledTime.Time)
		checkRetention(t, tn, want, takeSnapshot(t, tn.db))
		g.Expect(countsOf(real, tn.name)).To(Equal(want.counts), "reported counts for %s", tn.name)
		g.Expect(countsOf(dry, tn.name)).To(Equal(want.counts), "dry-run counts for %s", tn.name)
	}
	g.Expect(real.Rows).To(Equal(dry.Rows))

	// 3. A second run changes nothing.
	after := map[string]snapshot{}
	for _, tn := range tenants {
		after[tn.name] = takeSnapshot(t, tn.db)
	}
	second := runNow(g, policy, "again")
	g.Expect(second.Result).To(Equal(privacyv1alpha1.RunSucceeded))
	g.Expect(second.Rows).To(BeZero())
	for _, tn := range tenants {
		g.Expect(takeSnapshot(t, tn.db)).To(Equal(after[tn.name]))
	}

	// 4. Suspended: no run starts, even when asked.
	g.Expect(patchPolicy(policy, func(s *privacyv1alpha1.RetentionPolicySpec) { s.Suspend = true })).To(Succeed())
	g.Eventually(func(g Gomega) {
		c := condition(g, policy, privacyv1alpha1.ConditionSuspended)
		g.Expect(c).NotTo(BeNil())
		g.Expect(c.Status).To(Equal(metav1.ConditionTrue))
	}, eventually).Should(Succeed())
	jobsBefore := countJobs(g, ns)
	g.Expect(setAnnotation(policy, privacyv1alpha1.RunNowAnnotation, "suspended")).To(Succeed())
	g.Consistently(func(g Gomega) {
		g.Expect(countJobs(g, ns)).To(Equal(jobsBefore))
		g.Expect(env.Client.Get(context.Background(), client.ObjectKeyFromObject(policy), policy)).To(Succeed())
		g.Expect(policy.Status.Current).To(BeNil())
	}, 5*time.Second).Should(Succeed())
}

// runNow asks for a run and waits for it to finish; it returns the run from the history.
func runNow(g Gomega, policy *privacyv1alpha1.RetentionPolicy, value string) privacyv1alpha1.Run {
	g.Expect(setAnnotation(policy, privacyv1alpha1.RunNowAnnotation, value)).To(Succeed())
	var run privacyv1alpha1.Run
	g.Eventually(func(g Gomega) {
		g.Expect(env.Client.Get(context.Background(), client.ObjectKeyFromObject(policy), policy)).To(Succeed())
		g.Expect(policy.Status.Current).To(BeNil())
		g.Expect(policy.Status.History).NotTo(BeEmpty())
		g.Expect(policy.Status.History[0].Trigger).To(Equal("run-now:" + value))
		run = policy.Status.History[0]
	}, 3*eventually).Should(Succeed())
	return run
}

func patchPolicy(p *privacyv1alpha1.RetentionPolicy, change func(*privacyv1alpha1.RetentionPolicySpec)) error {
	if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(p), p); err != nil {
		return err
	}
	base := p.DeepCopy()
	change(&p.Spec)
	return env.Client.Patch(context.Background(), p, client.MergeFrom(base))
}

func countJobs(g Gomega, ns string) int {
	jobs := &batchv1.JobList{}
	g.Expect(env.Client.List(context.Background(), jobs, client.InNamespace(ns))).To(Succeed())
	return len(jobs.Items)
}

// renameLast gives the TenantDatabase just created from the sample its own name: the sample
// is called hotel-aurora, and five of them cannot share it.
func renameLast(t *testing.T, ns, name string) {
	t.Helper()
	ctx := context.Background()
	sample := &privacyv1alpha1.TenantDatabase{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "hotel-aurora"}, sample); err != nil {
		t.Fatal(err)
	}
	renamed := &privacyv1alpha1.TenantDatabase{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: sample.Labels},
		Spec: sample.Spec}
	if err := env.Client.Delete(ctx, sample); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Create(ctx, renamed); err != nil {
		t.Fatal(err)
	}
}

func applyFile(t *testing.T, path, ns string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	obj := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(b, &obj.Object); err != nil {
		t.Fatal(err)
	}
	obj.SetNamespace(ns)
	if err := env.Client.Create(context.Background(), obj); err != nil {
		t.Fatal(err)
	}
}

// snapshot is every row of every booking table: table → key → column → value.
type snapshot map[string]map[int64]map[string]any

func takeSnapshot(t *testing.T, db *sql.DB) snapshot {
	t.Helper()
	snap := snapshot{}
	for _, table := range bookingTables {
		rows, err := db.Query(fmt.Sprintf("SELECT * FROM %s", table.name))
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		snap[table.name] = map[int64]map[string]any{}
		for rows.Next() {
			values := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range values {
				ptrs[i] = &values[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			row := map[string]any{}
			for i, c := range cols {
				row[c] = normalise(values[i])
			}
			snap[table.name][toInt(row["id"])] = row
		}
		rows.Close()
	}
	return snap
}

func normalise(v any) any {
	switch x := v.(type) {
	case []byte:
		return string(x)
	case time.Time:
		return x.UTC()
	}
	return v
}

func toInt(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case int32:
		return int64(x)
	case string:
		var n int64
		fmt.Sscan(x, &n)
		return n
	}
	panic(fmt.Sprintf("not an integer: %T", v))
}

// retentionExpectation is what the sample policy's rules do to one database.
type retentionExpectation struct {
	inactive        map[int64]bool // customer → inactive for three years
	oldInvoices     map[int64]bool
	noConsent       map[int64]bool // account → alias without consent
	ticketsGone     map[int64]bool
	contactsGone    map[int64]bool
	retainedInvoice map[int64]bool // invoices of inactive customers kept by the legal hold
	counts          map[string]int64
}

func expectRetention(s snapshot, at time.Time) retentionExpectation {
	e := retentionExpectation{inactive: map[int64]bool{}, oldInvoices: map[int64]bool{}, noConsent: map[int64]bool{},
		ticketsGone: map[int64]bool{}, contactsGone: map[int64]bool{}, retainedInvoice: map[int64]bool{}, counts: map[string]int64{}}
	latest := map[int64]time.Time{}
	for id, c := range s["customers"] {
		if ts, ok := c["last_login_at"].(time.Time); ok {
			latest[id] = ts
		}
	}
	for _, b := range s["bookings"] {
		cust, ts := toInt(b["customer_id"]), b["created_at"].(time.Time)
		if ts.After(latest[cust]) {
			latest[cust] = ts
		}
	}
	for id := range s["customers"] {
		if latest[id].Before(at.AddDate(-3, 0, 0)) {
			e.inactive[id] = true
			e.counts["customers/anonymized"]++
		}
	}
	for id, inv := range s["invoices"] {
		issued := inv["issued_at"].(time.Time)
		switch {
		case issued.Before(at.AddDate(-7, 0, 0)):
			e.oldInvoices[id] = true
			e.counts["invoices/anonymized"]++
		case e.inactive[toInt(inv["customer_id"])]:
			e.retainedInvoice[id] = true
			e.counts["invoices/retained"]++
		}
	}
	for id, a := range s["accounts"] {
		if consent := a["alias_consent"]; consent == false || consent == int64(0) {
			e.noConsent[id] = true
			e.counts["accounts/anonymized"]++
		}
	}
	for id, tk := range s["support_tickets"] {
		if tk["created_at"].(time.Time).Before(at.AddDate(0, -3, 0)) {
			e.ticketsGone[id] = true
			e.counts["support_tickets/deleted"]++
		}
	}
	for id, cr := range s["contact_requests"] {
		if cr["created_at"].(time.Time).Before(at.AddDate(-1, 0, 0)) {
			e.contactsGone[id] = true
			e.counts["contact_requests/deleted"]++
		}
	}
	return e
}

// countsOf sums a run's reported rows for one database by table and outcome, counting a
// dry run's "would" outcomes as the real ones.
func countsOf(run privacyv1alpha1.Run, database string) map[string]int64 {
	out := map[string]int64{}
	names := map[string]string{"wouldAnonymize": "anonymized", "wouldDelete": "deleted"}
	for _, dr := range run.Databases {
		if dr.Database != database {
			continue
		}
		for _, rr := range dr.Rules {
			outcome := rr.Outcome
			if n, ok := names[outcome]; ok {
				outcome = n
			}
			if rr.Rows > 0 {
				out[rr.Table+"/"+outcome] += rr.Rows
			}
		}
	}
	return out
}

var fakeEmail = regexp.MustCompile(`^anon-[0-9a-f]{16}@anonymized\.invalid$`)

// checkRetention compares every row after the run with what the rules say.
func checkRetention(t *testing.T, tn *tenant, e retentionExpectation, after snapshot) {
	t.Helper()
	errorf := func(format string, args ...any) { t.Errorf(tn.name+": "+format, args...) }
	same := func(table string, id int64, row map[string]any, except ...string) {
		want := map[string]any{}
		for k, v := range tn.before[table][id] {
			want[k] = v
		}
		for _, col := range except {
			want[col], row[col] = nil, nil
		}
		if !reflect.DeepEqual(want, row) {
			errorf("%s %d changed: %v, was %v", table, id, row, tn.before[table][id])
		}
	}
	for id, row := range after["customers"] {
		if !e.inactive[id] {
			same("customers", id, row)
			continue
		}
		birth := tn.before["customers"][id]["birth_date"].(time.Time)
		if !fakeEmail.MatchString(fmt.Sprint(row["email"])) || row["full_name"] != "REDACTED" || row["phone"] != nil ||
			!row["birth_date"].(time.Time).Equal(time.Date(birth.Year(), 1, 1, 0, 0, 0, 0, time.UTC)) {
			errorf("customer %d not anonymized as the DataMap says: %v", id, row)
		}
		same("customers", id, row, "email", "full_name", "phone", "birth_date")
	}
	for id, row := range after["accounts"] {
		if e.noConsent[id] {
			if row["alias"] != "REDACTED" {
				errorf("account %d alias without consent kept: %v", id, row["alias"])
			}
			same("accounts", id, row, "alias")
			continue
		}
		same("accounts", id, row)
	}
	for id, row := range after["invoices"] {
		if e.oldInvoices[id] {
			if row["billing_name"] != "REDACTED" || row["billing_address"] != "REDACTED" {
				errorf("invoice %d older than 7 years not anonymized: %v", id, row)
			}
			same("invoices", id, row, "billing_name", "billing_address")
			continue
		}
		same("invoices", id, row)
	}
	for id, row := range after["bookings"] {
		same("bookings", id, row)
	}
	checkDeleted(t, tn, "support_tickets", e.ticketsGone, after, same)
	checkDeleted(t, tn, "contact_requests", e.contactsGone, after, same)
	if len(after["customers"]) != len(tn.before["customers"]) || len(after["invoices"]) != len(tn.before["invoices"]) {
		errorf("rows of customers or invoices were deleted")
	}
}

func checkDeleted(t *testing.T, tn *tenant, table string, gone map[int64]bool, after snapshot,
	same func(string, int64, map[string]any, ...string)) {
	t.Helper()
	for id := range tn.before[table] {
		row, present := after[table][id]
		switch {
		case gone[id] && present:
			t.Errorf("%s: %s %d should have been deleted", tn.name, table, id)
		case !gone[id] && !present:
			t.Errorf("%s: %s %d was deleted, but no rule says so", tn.name, table, id)
		case present:
			same(table, id, row)
		}
	}
}

// TestRetentionParallelismSplitsTheRunIntoAnIndexedJob runs the sample policy with
// parallelism 3: one Indexed Job whose three pods each take a primary-key range, ending
// where a single pod would.
func TestRetentionParallelismSplitsTheRunIntoAnIndexedJob(t *testing.T) {
	g := NewWithT(t)
	startManager(t)
	ns := newNamespace(t, "parallel")
	applyFile(t, filepath.Join("testdata", "retention_datamap.yaml"), ns)
	tn := &tenant{name: "hotel-aurora", server: postgres}
	tn.db = loadBookingData(t, postgres, "retention_parallel", 900, time.Now().UTC())
	tn.before = takeSnapshot(t, tn.db)
	credentialsSecret(t, ns, "tenant-db", postgres)
	applySample(t, "privacy_v1alpha1_tenantdatabase.yaml", ns, tenantDatabaseSpec(postgres, "retention_parallel", "tenant-db"))
	applySample(t, "privacy_v1alpha1_retentionpolicy.yaml", ns, func(spec map[string]any) {
		spec["parallelism"] = 3
		spec["batchSize"] = 50
	})
	policy := &privacyv1alpha1.RetentionPolicy{}
	policy.Name, policy.Namespace = "booking-retention", ns

	run := runNow(g, policy, "parallel")
	g.Expect(run.Result).To(Equal(privacyv1alpha1.RunSucceeded), "%+v", run)
	g.Expect(run.Databases).To(HaveLen(1))
	job := &batchv1.Job{}
	g.Expect(env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: run.Databases[0].Job}, job)).To(Succeed())
	g.Expect(job.Spec.CompletionMode).To(HaveValue(Equal(batchv1.IndexedCompletion)))
	g.Expect(job.Spec.Completions).To(HaveValue(BeEquivalentTo(3)))
	g.Expect(job.Status.Succeeded).To(BeEquivalentTo(3))

	want := expectRetention(tn.before, run.ScheduledTime.Time)
	checkRetention(t, tn, want, takeSnapshot(t, tn.db))
	g.Expect(countsOf(run, tn.name)).To(Equal(want.counts))
}
