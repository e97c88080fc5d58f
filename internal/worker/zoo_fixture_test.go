package worker_test

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/lethe-operator/lethe/internal/plan"
	"github.com/lethe-operator/lethe/internal/testdb"
)

// The schema zoo (internal/testdb.ZooSchema) is a shop schema shaped like the public
// sample schemas rather than like one written for Lethe; its comment lists the rows.
// zooForeignKeys are the references the integrity check follows: table (columns) →
// table (columns).
var zooForeignKeys = []struct {
	from     string
	cols     []string
	to       string
	refs     []string
	nullable bool
}{
	{"store", []string{"address_id"}, "address", []string{"address_id"}, false},
	{"store", []string{"manager_staff_id"}, "staff", []string{"staff_id"}, true},
	{"staff", []string{"address_id"}, "address", []string{"address_id"}, false},
	{"staff", []string{"store_id"}, "store", []string{"store_id"}, false},
	{"staff", []string{"reports_to"}, "staff", []string{"staff_id"}, true},
	{"Customer", []string{"address_id"}, "address", []string{"address_id"}, false},
	{"Customer", []string{"account_manager_id"}, "staff", []string{"staff_id"}, true},
	{"invoice", []string{"customer_id"}, "Customer", []string{"customer_id"}, false},
	{"invoice_line", []string{"invoice_id"}, "invoice", []string{"invoice_id"}, false},
	{"refund", []string{"invoice_id", "line_no"}, "invoice_line", []string{"invoice_id", "line_no"}, false},
	{"payment", []string{"customer_id"}, "Customer", []string{"customer_id"}, true},
	{"support_ticket", []string{"customer_id"}, "Customer", []string{"customer_id"}, false},
	{"support_ticket", []string{"assigned_staff_id"}, "staff", []string{"staff_id"}, false},
}

// q quotes a zoo table name for the tenant's engine.
func (tn *tenant) q(name string) string { return testdb.Quote(tn.engine, name) }

func setupZoo(tn *tenant) {
	tn.t.Helper()
	tn.exec(testdb.ZooSchema(tn.engine)...)
}

// zooMap is the zoo's DataMap, written as a platform engineer would: links by table name
// (the columns come from the foreign keys), the household's address reached from the
// customer, the account manager a column of the customer's to nullify.
func zooMap() plan.DataMap {
	redact := plan.Mask{Strategy: plan.StrategyRedact}
	return plan.DataMap{Tables: []plan.Table{
		{Name: "Customer", PrimaryKey: []string{"customer_id"},
			Identifiers: map[string]string{"email": "email", "customerId": "customer_id"},
			Columns: []plan.Column{
				{Name: "first_name", Category: "name", Mask: redact},
				{Name: "last_name", Category: "name", Mask: redact},
				{Name: "email", Category: "contact", Mask: plan.Mask{Strategy: plan.StrategyFakeEmail}},
				{Name: "account_manager_id", Category: "other", Mask: plan.Mask{Strategy: plan.StrategyNullify}},
			},
			Guards: []plan.Guard{{Name: "last-admin", Where: []plan.Condition{{Column: "role", Op: plan.OpEq, Value: "admin"}},
				Per: []string{"account_id"}, KeepAtLeast: 1}},
		},
		{Name: "address", PrimaryKey: []string{"address_id"}, ReferencedBy: &plan.Link{Table: "Customer"},
			Columns: []plan.Column{
				{Name: "line1", Category: "location", Mask: redact},
				{Name: "postal_code", Category: "location", Mask: plan.Mask{Strategy: plan.StrategyGeneralize, To: plan.GeneralizePrefix, Width: 2}},
				{Name: "phone", Category: "contact", Mask: plan.Mask{Strategy: plan.StrategyNullify}},
			}},
		{Name: "staff", PrimaryKey: []string{"staff_id"}, Identifiers: map[string]string{"email": "email"},
			Columns: []plan.Column{
				{Name: "first_name", Category: "name", Mask: redact},
				{Name: "last_name", Category: "name", Mask: redact},
				{Name: "email", Category: "contact", Mask: plan.Mask{Strategy: plan.StrategyFakeEmail}},
				{Name: "reports_to", Category: "other", Mask: plan.Mask{Strategy: plan.StrategyNullify}},
			}},
		{Name: "invoice", PrimaryKey: []string{"invoice_id"}, SubjectVia: &plan.Link{Table: "Customer"},
			LegalHold: &plan.LegalHold{Basis: "bookkeeping-law", RetainFor: "P7Y", From: "issued_at"},
			Columns:   []plan.Column{{Name: "billing_name", Category: "name", Mask: redact}}},
		{Name: "invoice_line", PrimaryKey: []string{"invoice_id", "line_no"}, SubjectVia: &plan.Link{Table: "invoice"},
			Columns: []plan.Column{{Name: "description", Category: "free-text", Mask: redact}}},
		{Name: "refund", PrimaryKey: []string{"refund_id"}, SubjectVia: &plan.Link{Table: "invoice_line"},
			Columns: []plan.Column{{Name: "reason", Category: "free-text", Mask: redact}}},
		{Name: "payment", PrimaryKey: []string{"payment_id", "paid_at"}, SubjectVia: &plan.Link{Table: "Customer"},
			Columns: []plan.Column{{Name: "card_holder", Category: "name", Mask: plan.Mask{Strategy: plan.StrategyNullify}}}},
		{Name: "support_ticket", PrimaryKey: []string{"ticket_id"},
			SubjectVia: &plan.Link{Table: "Customer", Columns: []string{"customer_id"}}, OnErasure: plan.ActionDelete,
			Columns: []plan.Column{{Name: "body", Category: "free-text", Mask: redact}}},
	}}
}

// zooPlan is a plan of kind against the zoo.
func (tn *tenant) zooPlan(kind plan.Kind) plan.Plan {
	p := tn.plan(kind)
	p.DataMap = zooMap()
	return p
}

// zooSnapshot is a hash of every row of every zoo table, by table and primary key.
type zooSnapshot map[string]map[string]string

func (tn *tenant) zooSnapshot() zooSnapshot {
	tn.t.Helper()
	snap, err := testdb.RowHashes(context.Background(), tn.db, tn.engine)
	if err != nil {
		tn.t.Fatal(err)
	}
	return snap
}

// rowChange is what a scenario expects to happen to rows: keys "table:key" changed
// (hash differs), deleted, or anything not listed unchanged byte for byte.
type rowChange struct {
	changed, deleted []string
}

// checkZooRows compares two snapshots: every row listed as changed differs, every row
// listed as deleted is gone, and every other row is there, byte for byte the same. The
// row counts follow.
func checkZooRows(t *testing.T, before, after zooSnapshot, want rowChange) {
	t.Helper()
	for _, zt := range testdb.ZooTables {
		for key, hash := range before[zt.Name] {
			id := zt.Name + ":" + key
			got, present := after[zt.Name][key]
			switch {
			case slices.Contains(want.deleted, id):
				if present {
					t.Errorf("%s should be deleted and is still there", id)
				}
			case slices.Contains(want.changed, id):
				if !present {
					t.Errorf("%s should be changed but was deleted", id)
				} else if got == hash {
					t.Errorf("%s should be changed and is as it was", id)
				}
			case !present:
				t.Errorf("%s was deleted: it is not the erased subject's", id)
			case got != hash:
				t.Errorf("%s changed: it is not the erased subject's", id)
			}
		}
		if n, want := len(after[zt.Name]), len(before[zt.Name])-countPrefix(want.deleted, zt.Name+":"); n != want {
			t.Errorf("table %s has %d rows, want %d", zt.Name, n, want)
		}
	}
}

func countPrefix(ids []string, prefix string) int {
	n := 0
	for _, id := range ids {
		if strings.HasPrefix(id, prefix) {
			n++
		}
	}
	return n
}

// checkZooIntegrity checks that every reference of the zoo still finds its row.
func checkZooIntegrity(t *testing.T, tn *tenant) {
	t.Helper()
	for _, fk := range zooForeignKeys {
		var on, notNull []string
		for i := range fk.cols {
			on = append(on, "r."+fk.refs[i]+" = f."+fk.cols[i])
			notNull = append(notNull, "f."+fk.cols[i]+" IS NOT NULL")
		}
		query := fmt.Sprintf("SELECT COUNT(*) FROM %s f LEFT JOIN %s r ON %s WHERE %s AND r.%s IS NULL",
			tn.q(fk.from), tn.q(fk.to), strings.Join(on, " AND "), strings.Join(notNull, " AND "), fk.refs[0])
		if n := tn.value(query); n != "0" {
			t.Errorf("%d rows of %s point at no row of %s through %v", atoi(n), fk.from, fk.to, fk.cols)
		}
	}
}

func atoi(s string) int {
	var n int
	fmt.Sscan(s, &n)
	return n
}

// outcomes returns a report's results as "table outcome rows" lines, sorted, for the
// subject or rule given (all when empty).
func outcomes(r plan.Report, ruleOrSubject string) []string {
	var out []string
	for _, res := range r.Results {
		if ruleOrSubject != "" && res.Rule != ruleOrSubject && res.Subject != ruleOrSubject {
			continue
		}
		line := fmt.Sprintf("%s %s %d", res.Table, res.Outcome, res.Rows)
		if len(res.ReferencedBy) > 0 {
			line += " by " + strings.Join(res.ReferencedBy, ",")
		}
		if res.RetainedUntil != nil {
			line += " until " + res.RetainedUntil.Format("2006-01-02") + " (" + res.Basis + ")"
		}
		out = append(out, line)
	}
	sort.Strings(out)
	return out
}

// checkOutcomes compares a subject's or rule's outcomes with the expected lines.
func checkOutcomes(t *testing.T, r plan.Report, ruleOrSubject string, want ...string) {
	t.Helper()
	got := outcomes(r, ruleOrSubject)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("%s outcomes:\n  got  %q\n  want %q", ruleOrSubject, got, want)
	}
}

// ids returns "table:key" of the rows of a zoo table where cond holds.
func (tn *tenant) ids(table, cond string) []string {
	tn.t.Helper()
	ids, err := testdb.ZooKeys(context.Background(), tn.db, tn.engine, table, cond)
	if err != nil {
		tn.t.Fatal(err)
	}
	return ids
}

// idsOf concatenates ids of several tables: pairs of table and condition.
func (tn *tenant) idsOf(pairs ...string) []string {
	tn.t.Helper()
	var out []string
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, tn.ids(pairs[i], pairs[i+1])...)
	}
	return out
}
