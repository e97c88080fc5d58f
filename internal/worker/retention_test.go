package worker_test

import (
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/lethe-operator/lethe/internal/plan"
)

// retentionRules are rules over the booking schema; with now = 2026-06-01 they select:
//   - inactive-customers: bob, carol (never active) and frank (no activity at all);
//     alice and erin logged in lately, dave booked lately.
//   - support-mail: tickets 1001, 2000 and 4000 (before 2026-03-01).
//   - old-invoices: all four invoices are older than a year; 100 and 200 are within their
//     7-year legal hold (retained until 2031-05-01 at the latest), 101 and 201 are not.
//   - alias-without-consent: alice and dave (bob's alias is gone with the first rule).
//   - guests-without-email: booking guests whose email is NULL, deleted (composite key).
func retentionRules() []plan.Rule {
	return []plan.Rule{
		{Name: "inactive-customers", Table: "customers", Action: plan.ActionAnonymize,
			InactiveFor: "P3Y", Activity: []string{"customers.last_login_at", "bookings.created_at"}},
		{Name: "support-mail", Table: "support_tickets", Action: plan.ActionDelete, OlderThan: "P3M", Column: "created_at"},
		// Every invoice of the fixture is over a year old: the rule says it may match them all.
		{Name: "old-invoices", Table: "invoices", Action: plan.ActionAnonymize, OlderThan: "P1Y", Column: "issued_at", AllRows: true},
		{Name: "alias-without-consent", Table: "customers", Action: plan.ActionAnonymize, Columns: []string{"alias"},
			Where: []plan.Condition{{Column: "alias_consent", Op: plan.OpEq, Value: "false"}, {Column: "alias", Op: plan.OpNotNull}}},
		{Name: "guests-without-email", Table: "booking_guests", Action: plan.ActionDelete,
			Where: []plan.Condition{{Column: "guest_email", Op: plan.OpIsNull}, {Column: "booking_id", Op: plan.OpIn, Values: []string{"10", "40"}}}},
	}
}

type expectation struct {
	table, rule, outcome string
	rows                 int64
}

var retentionExpectations = []expectation{
	{"customers", "inactive-customers", plan.OutcomeAnonymized, 3},
	{"support_tickets", "support-mail", plan.OutcomeDeleted, 3},
	{"invoices", "old-invoices", plan.OutcomeAnonymized, 2},
	{"invoices", "old-invoices", plan.OutcomeRetained, 2},
	{"customers", "alias-without-consent", plan.OutcomeAnonymized, 2},
	{"booking_guests", "guests-without-email", plan.OutcomeDeleted, 2},
}

func TestRetentionAppliesRulesAndIsIdempotent(t *testing.T) {
	for _, e := range engines {
		t.Run(e, func(t *testing.T) {
			t.Parallel()
			tn := newTenant(t, e)
			setupBooking(tn)
			p := tn.plan(plan.KindRetention)
			p.Rules = retentionRules()
			r := tn.mustSucceed(p)
			for _, x := range retentionExpectations {
				if got := result(t, r, x.table, x.outcome, x.rule); got.Rows != x.rows {
					t.Errorf("%s %s %s = %d rows, want %d", x.rule, x.table, x.outcome, got.Rows, x.rows)
				}
			}
			retained := result(t, r, "invoices", plan.OutcomeRetained, "old-invoices")
			if want := time.Date(2031, time.May, 1, 0, 0, 0, 0, time.UTC); retained.RetainedUntil == nil || !retained.RetainedUntil.Equal(want) {
				t.Errorf("retainedUntil = %v, want %v", retained.RetainedUntil, want)
			}
			checkRetentionState(t, tn)

			before := tn.checksum(bookingTables...)
			again := tn.mustSucceed(p)
			if n := changedRows(again); n != 0 {
				t.Errorf("second run changed %d rows, want 0: %+v", n, again.Results)
			}
			if result(t, again, "invoices", plan.OutcomeRetained, "old-invoices").Rows != 2 {
				t.Error("second run no longer reports the retained invoices")
			}
			if tn.checksum(bookingTables...) != before {
				t.Error("second run changed data")
			}
		})
	}
}

// checkRetentionState checks rows value by value after retentionRules ran.
func checkRetentionState(t *testing.T, tn *tenant) {
	t.Helper()
	row := func(id int) []string {
		return tn.rows("SELECT email, full_name, phone, birth_date, country, postcode, alias FROM customers WHERE id = " + itoa(id))[0]
	}
	bob := row(2)
	if bob[0] == "bob@example.com" || bob[1] != "REDACTED" || bob[2] == "+44 2222" || bob[2] == "NULL" ||
		bob[3][:10] != "1985-01-01" || bob[4] != "GB" || bob[5] != "M1" || bob[6] != "NULL" {
		t.Errorf("bob after retention = %q", bob)
	}
	frank := row(6)
	if frank[0] == "frank@example.com" || frank[1] != "NULL" || frank[3] != "NULL" || frank[5] != "NULL" {
		t.Errorf("frank after retention = %q (NULLs must stay NULL)", frank)
	}
	if alice := row(1); alice[0] != "alice@example.com" || alice[1] != "Alice Liddell" || alice[6] != "NULL" {
		t.Errorf("alice after retention = %q: only her alias goes", alice)
	}
	if erin := row(5); erin[0] != "erin@example.com" || erin[6] != "NULL" {
		t.Errorf("erin after retention = %q", erin)
	}
	if got := tn.rows("SELECT id FROM support_tickets ORDER BY id"); len(got) != 1 || got[0][0] != "1000" {
		t.Errorf("support tickets left = %v, want [1000]", got)
	}
	invoices := tn.rows("SELECT id, billing_name FROM invoices ORDER BY id")
	want := [][]string{{"100", "Alice Liddell"}, {"101", "REDACTED"}, {"200", "Bob Builder"}, {"201", "REDACTED"}}
	if !equalRows(invoices, want) {
		t.Errorf("invoices = %v, want %v", invoices, want)
	}
	guests := tn.rows("SELECT booking_id, seq FROM booking_guests ORDER BY booking_id, seq")
	if !equalRows(guests, [][]string{{"10", "1"}, {"11", "1"}, {"20", "1"}}) {
		t.Errorf("booking guests = %v", guests)
	}
}

func TestPreviewCountsWhatRetentionWouldDoAndChangesNothing(t *testing.T) {
	for _, e := range engines {
		t.Run(e, func(t *testing.T) {
			t.Parallel()
			tn := newTenant(t, e)
			setupBooking(tn)
			before := tn.checksum(bookingTables...)
			p := tn.plan(plan.KindPreview)
			p.Rules = retentionRules()
			r := tn.mustSucceed(p)
			would := map[string]string{plan.OutcomeAnonymized: plan.OutcomeWouldAnonymize, plan.OutcomeDeleted: plan.OutcomeWouldDelete,
				plan.OutcomeRetained: plan.OutcomeRetained}
			for _, x := range retentionExpectations {
				if got := result(t, r, x.table, would[x.outcome], x.rule); got.Rows != x.rows {
					t.Errorf("%s %s %s = %d rows, want %d", x.rule, x.table, would[x.outcome], got.Rows, x.rows)
				}
			}
			if tn.checksum(bookingTables...) != before {
				t.Fatal("preview changed data")
			}
		})
	}
}

func TestRetentionDeleteKeepsReferencedRowsAndAnonymizesThem(t *testing.T) {
	for _, e := range engines {
		t.Run(e, func(t *testing.T) {
			t.Parallel()
			tn := newTenant(t, e)
			setupBooking(tn)
			p := tn.plan(plan.KindRetention)
			// Carol has no rows elsewhere; bob and frank... frank has none either; bob has
			// bookings, invoices and a ticket pointing at him.
			p.Rules = []plan.Rule{{Name: "purge-inactive", Table: "customers", Action: plan.ActionDelete,
				InactiveFor: "P3Y", Activity: []string{"customers.last_login_at", "bookings.created_at"}}}
			r := tn.mustSucceed(p)
			if got := result(t, r, "customers", plan.OutcomeDeleted, "purge-inactive").Rows; got != 2 {
				t.Errorf("deleted %d customers, want 2 (carol, frank)", got)
			}
			kept := result(t, r, "customers", plan.OutcomeReferenced, "purge-inactive")
			if kept.Rows != 1 || !slices.Equal(kept.ReferencedBy, []string{"bookings", "invoices", "support_tickets"}) {
				t.Errorf("referenced %d customers by %v, want 1 (bob) by bookings, invoices and support_tickets", kept.Rows, kept.ReferencedBy)
			}
			if ids := tn.rows("SELECT id FROM customers ORDER BY id"); !equalRows(ids, [][]string{{"1"}, {"2"}, {"4"}, {"5"}}) {
				t.Errorf("customers left = %v", ids)
			}
			if name := tn.value("SELECT full_name FROM customers WHERE id = 2"); name != "REDACTED" {
				t.Errorf("bob's name = %q, want REDACTED", name)
			}
		})
	}
}

func TestRetentionMaxRowsCapsARuleAndTheNextRunContinues(t *testing.T) {
	for _, e := range engines {
		t.Run(e, func(t *testing.T) {
			t.Parallel()
			tn := newTenant(t, e)
			setupBooking(tn)
			p := tn.plan(plan.KindRetention)
			p.Rules = retentionRules()[:1]
			p.Options.MaxRows = 2
			first := tn.mustSucceed(p)
			res := result(t, first, "customers", plan.OutcomeAnonymized, "inactive-customers")
			if res.Rows != 2 || !res.Capped {
				t.Errorf("first run = %+v, want 2 rows, capped", res)
			}
			second := tn.mustSucceed(p)
			if res := result(t, second, "customers", plan.OutcomeAnonymized, "inactive-customers"); res.Rows != 1 {
				t.Errorf("second run = %+v, want the 1 row left", res)
			}
		})
	}
}

func TestRetentionShardsSplitTheWorkBetweenThem(t *testing.T) {
	for _, e := range engines {
		t.Run(e, func(t *testing.T) {
			t.Parallel()
			whole := newTenant(t, e)
			sharded := newTenant(t, e)
			for _, tn := range []*tenant{whole, sharded} {
				tn.exec(`CREATE TABLE visitors (id BIGINT PRIMARY KEY, email VARCHAR(100) NULL, seen_at ` + tn.ts() + ` NOT NULL)`)
				for i := 1; i <= 50; i++ {
					tn.exec("INSERT INTO visitors VALUES (" + itoa(i*7) + ", 'v" + itoa(i) + "@example.com', '20" + itoa(10+i%20) + "-01-01 00:00:00')")
				}
			}
			dm := plan.DataMap{Tables: []plan.Table{{Name: "visitors", PrimaryKey: []string{"id"},
				Columns: []plan.Column{{Name: "email", Mask: plan.Mask{Strategy: plan.StrategyNullify}}}}}}
			rules := []plan.Rule{{Name: "old-visitors", Table: "visitors", Action: plan.ActionAnonymize, OlderThan: "P2Y", Column: "seen_at"}}
			run := func(tn *tenant, shard *plan.Shard) int64 {
				p := tn.plan(plan.KindRetention)
				p.DataMap, p.Rules, p.Options.Shard = dm, rules, shard
				return result(t, tn.mustSucceed(p), "visitors", plan.OutcomeAnonymized, "").Rows
			}
			total := run(whole, nil)
			var sum int64
			for i := 0; i < 3; i++ {
				n := run(sharded, &plan.Shard{Index: i, Count: 3})
				if n == 0 || n == total {
					t.Errorf("shard %d anonymized %d of %d rows: the work is not split", i, n, total)
				}
				sum += n
			}
			if sum != total || whole.checksum("visitors") != sharded.checksum("visitors") {
				t.Fatalf("shards anonymized %d rows, the whole run %d; states equal: %v", sum, total,
					whole.checksum("visitors") == sharded.checksum("visitors"))
			}
		})
	}
}

func equalRows(a, b [][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if len(a[i]) != len(b[i]) {
			return false
		}
		for j := range a[i] {
			if a[i][j] != b[i][j] {
				return false
			}
		}
	}
	return true
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestShardIndexComesFromTheIndexedJob(t *testing.T) {
	tn := newTenant(t, engines[0])
	setupBooking(tn)
	p := tn.plan(plan.KindPreview)
	p.Rules = retentionRules()[:1]
	p.Options.Shard = &plan.Shard{Index: -1, Count: 2}
	t.Setenv("JOB_COMPLETION_INDEX", "1")
	second := result(t, tn.mustSucceed(p), "customers", plan.OutcomeWouldAnonymize, "").Rows
	t.Setenv("JOB_COMPLETION_INDEX", "0")
	first := result(t, tn.mustSucceed(p), "customers", plan.OutcomeWouldAnonymize, "").Rows
	if first+second != 3 || first == 0 || second == 0 {
		t.Fatalf("shards 0 and 1 would anonymize %d and %d customers, want 3 between them", first, second)
	}
	t.Setenv("JOB_COMPLETION_INDEX", "")
	if r := tn.run(p); r.Succeeded || r.Errors[0].Code != plan.ErrInvalidPlan {
		t.Fatalf("shard -1 without JOB_COMPLETION_INDEX: %+v", r.Errors)
	}
}
