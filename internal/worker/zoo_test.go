package worker_test

import (
	"strings"
	"testing"

	"github.com/lethe-operator/lethe/internal/plan"
)

// zooAnonymizeSubjects are coalesced requests with each table's own action: customers by
// e-mail in another letter case and with spaces, by id, the last admin of an account,
// two admins of one account in the same run, an e-mail two customers share once case is
// ignored, nobody, and a staff member.
func zooAnonymizeSubjects(tn *tenant) []plan.Subject {
	return []plan.Subject{
		tn.subject("req-ann", "email", "ann.smith@example.com", ""),
		tn.subject("req-bob", "customerId", "2", ""),
		tn.subject("req-eve", "email", "eve@example.com", ""),
		tn.subject("req-dan", "email", "Dan@Example.com", ""),
		tn.subject("req-fay", "email", "fay@example.com", ""),
		tn.subject("req-gus", "email", "gus@example.com", ""),
		tn.subject("req-john", "email", "john.x@example.com", ""),
		tn.subject("req-nobody", "email", "nobody@example.com", ""),
		tn.subject("req-tia", "email", "TIA@shop.example", ""),
	}
}

// zooAnonymizeOutcomes are what erasing zooAnonymizeSubjects reports, per subject.
var zooAnonymizeOutcomes = map[string][]string{
	// Ann: her own address; the invoice of 2024 stays with its line items and refund
	// under the hold, the one of 2018 is past it; her ticket goes (onErasure delete).
	"req-ann": {"Customer anonymized 1", "address anonymized 1",
		"invoice anonymized 1", "invoice retained 1 until 2031-03-01 (bookkeeping-law)",
		"invoice_line anonymized 1", "invoice_line retained 2 until 2031-03-01 (bookkeeping-law)",
		"refund anonymized 1", "refund retained 1 until 2031-03-01 (bookkeeping-law)",
		"payment anonymized 2", "support_ticket deleted 1"},
	// Bob shares his address with Cat, who stays: the address stays as it is.
	"req-bob": {"Customer anonymized 1", "address shared 1 by Customer",
		"invoice retained 1 until 2029-06-01 (bookkeeping-law)", "invoice_line retained 3 until 2029-06-01 (bookkeeping-law)",
		"payment anonymized 1", "support_ticket deleted 1"},
	"req-eve": {"Customer anonymized 1", "address anonymized 1", "invoice anonymized 1", "invoice_line anonymized 2",
		"refund anonymized 1", "payment anonymized 1", "support_ticket deleted 1"},
	// Dan is the last admin of account 30: nothing of his changes.
	"req-dan": {"Customer guarded 1"},
	// Fay and Gus are the two admins of account 40: the first goes, the second stays.
	"req-fay":    {"Customer anonymized 1", "address anonymized 1"},
	"req-gus":    {"Customer guarded 1"},
	"req-john":   {"Customer ambiguous 2"},
	"req-nobody": {"Customer notFound 0"},
	"req-tia":    {"staff anonymized 1"},
}

func zooAnonymizeChanges(tn *tenant) rowChange {
	return rowChange{
		changed: tn.idsOf(
			"Customer", "customer_id IN (1, 2, 5, 6)",
			"address", "address_id IN (1, 6, 8)",
			"invoice", "invoice_id IN (101, 500)",
			"invoice_line", "invoice_id IN (101, 500)",
			"refund", "refund_id IN (1001, 1002)",
			"payment", "payment_id IN (1, 2, 3, 5)",
			"staff", "staff_id = 2"),
		deleted: tn.ids("support_ticket", "ticket_id IN (1, 2, 3)"),
	}
}

func TestZooErasureAnonymizesOnlyTheSubjectsRows(t *testing.T) {
	for _, e := range engines {
		t.Run(e, func(t *testing.T) {
			t.Parallel()
			tn := newTenant(t, e)
			setupZoo(tn)
			p := tn.zooPlan(plan.KindErasure)
			p.Subjects = zooAnonymizeSubjects(tn)
			want := zooAnonymizeChanges(tn)
			before := tn.zooSnapshot()
			r := tn.mustSucceed(p)
			for sub, lines := range zooAnonymizeOutcomes {
				checkOutcomes(t, r, sub, lines...)
			}
			for _, sub := range []string{"req-ann", "req-bob", "req-eve", "req-fay", "req-tia"} {
				if n, ok := r.Remaining[sub]; !ok || n != 0 {
					t.Errorf("remaining[%s] = %d (present %v), want 0", sub, n, ok)
				}
			}
			guarded := result(t, r, "Customer", plan.OutcomeGuarded, "req-dan")
			if !strings.Contains(guarded.Reason, `guard "last-admin"`) || !strings.Contains(guarded.Reason, "per account_id") {
				t.Errorf("guarded reason %q does not say which guard", guarded.Reason)
			}
			after := tn.zooSnapshot()
			checkZooRows(t, before, after, want)
			checkZooIntegrity(t, tn)
			if got := tn.rows("SELECT first_name, account_manager_id, last_name FROM " + tn.q("Customer") + " WHERE customer_id = 1"); got[0][0] != "REDACTED" || got[0][1] != "NULL" {
				t.Errorf("Ann = %q: name redacted, account manager link dropped", got[0])
			}
			if got := tn.rows("SELECT reports_to FROM staff WHERE staff_id = 2"); got[0][0] != "NULL" {
				t.Errorf("Tia reports to %q: her reports_to (a self-reference) is nullified", got[0][0])
			}

			again := tn.mustSucceed(p)
			if n := changedRows(again); n != 0 {
				t.Errorf("second run changed %d rows, want 0: %q", n, outcomes(again, ""))
			}
			checkZooRows(t, after, tn.zooSnapshot(), rowChange{})
		})
	}
}

// zooDeleteOutcomes are what erasing Ann, Eve and Tia with action delete reports.
var zooDeleteOutcomes = map[string][]string{
	// Ann's held invoice keeps its lines and refund, and her row, which it references;
	// her row keeps her address.
	"req-ann": {"Customer referenced 1 by invoice", "address referenced 1 by Customer",
		"invoice deleted 1", "invoice retained 1 until 2031-03-01 (bookkeeping-law)",
		"invoice_line deleted 1", "invoice_line retained 2 until 2031-03-01 (bookkeeping-law)",
		"refund deleted 1", "refund retained 1 until 2031-03-01 (bookkeeping-law)",
		"payment deleted 2", "support_ticket deleted 1"},
	"req-eve": {"Customer deleted 1", "address deleted 1", "invoice deleted 1", "invoice_line deleted 2",
		"refund deleted 1", "payment deleted 1", "support_ticket deleted 1"},
	// Tia is Bob's account manager, Uma's manager and assigned Bob's ticket (whose
	// foreign key would set a NOT NULL column to NULL on delete): kept, anonymized.
	"req-tia": {"staff referenced 1 by Customer,staff,support_ticket"},
}

func zooDeleteSubjects(tn *tenant) []plan.Subject {
	return []plan.Subject{
		tn.subject("req-ann", "email", "ann.smith@example.com", plan.ActionDelete),
		tn.subject("req-eve", "email", "EVE@example.com", plan.ActionDelete),
		tn.subject("req-tia", "email", "tia@shop.example", plan.ActionDelete),
	}
}

func TestZooErasureDeletesOnlyWhatNothingNeeds(t *testing.T) {
	for _, e := range engines {
		t.Run(e, func(t *testing.T) {
			t.Parallel()
			tn := newTenant(t, e)
			setupZoo(tn)
			p := tn.zooPlan(plan.KindErasure)
			p.Subjects = zooDeleteSubjects(tn)
			want := rowChange{
				changed: tn.idsOf("Customer", "customer_id = 1", "address", "address_id = 1", "staff", "staff_id = 2"),
				deleted: tn.idsOf("support_ticket", "ticket_id IN (1, 3)", "payment", "payment_id IN (1, 2, 5)",
					"refund", "refund_id IN (1001, 1002)", "invoice_line", "invoice_id IN (101, 500)",
					"invoice", "invoice_id IN (101, 500)", "Customer", "customer_id = 5", "address", "address_id = 6"),
			}
			before := tn.zooSnapshot()
			r := tn.mustSucceed(p)
			for sub, lines := range zooDeleteOutcomes {
				checkOutcomes(t, r, sub, lines...)
				if n := r.Remaining[sub]; n != 0 {
					t.Errorf("remaining[%s] = %d, want 0", sub, n)
				}
			}
			checkZooRows(t, before, tn.zooSnapshot(), want)
			checkZooIntegrity(t, tn)
		})
	}
}

func TestZooPreviewOfErasureSaysWhatTheErasureDoes(t *testing.T) {
	for _, e := range engines {
		t.Run(e, func(t *testing.T) {
			t.Parallel()
			tn := newTenant(t, e)
			setupZoo(tn)
			before := tn.zooSnapshot()
			for _, run := range []struct {
				subjects []plan.Subject
				want     map[string][]string
			}{{zooAnonymizeSubjects(tn), zooAnonymizeOutcomes}, {zooDeleteSubjects(tn), zooDeleteOutcomes}} {
				p := tn.zooPlan(plan.KindPreview)
				p.Subjects = run.subjects
				r := tn.mustSucceed(p)
				for sub, lines := range run.want {
					checkOutcomes(t, r, sub, wouldLines(lines)...)
				}
			}
			checkZooRows(t, before, tn.zooSnapshot(), rowChange{})
		})
	}
}

// wouldLines turns the outcomes of a run into those of its preview.
func wouldLines(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		l = strings.Replace(l, " anonymized ", " wouldAnonymize ", 1)
		out[i] = strings.Replace(l, " deleted ", " wouldDelete ", 1)
	}
	return out
}

// zooInactiveRules anonymize inactive customers and their addresses and delete their
// payments; "inactive" is no login and no payment for three years.
func zooInactiveRules() []plan.Rule {
	activity := []string{"Customer.last_login", "payment.paid_at"}
	return []plan.Rule{
		{Name: "inactive-customers", Table: "Customer", Action: plan.ActionAnonymize, InactiveFor: "P3Y", Activity: activity},
		{Name: "inactive-addresses", Table: "address", Action: plan.ActionAnonymize, InactiveFor: "P3Y", Activity: activity},
		{Name: "inactive-payments", Table: "payment", Action: plan.ActionDelete, InactiveFor: "P3Y", Activity: activity},
	}
}

// zooInactiveOutcomes: Bob, Dan, Eve, Gus, Ivy and Jon are inactive. Dan is the last
// admin of account 30 and Jon the last of 50 once Ivy is anonymized: both stay. Address
// 5 is Dan's but also Tia's (staff): it stays; the store's, the staff's and the address
// nobody uses reach no customer and are not inactive customers' addresses. Payments 4 and
// 6 have no customer: not inactive customers' payments either.
var zooInactiveOutcomes = map[string][]string{
	"inactive-customers": {"Customer anonymized 4", "Customer guarded 2"},
	"inactive-addresses": {"address anonymized 4", "address shared 1 by staff"},
	"inactive-payments":  {"payment deleted 2"},
}

func TestZooRetentionOfInactiveSubjectsTouchesNobodyElse(t *testing.T) {
	for _, e := range engines {
		t.Run(e, func(t *testing.T) {
			t.Parallel()
			tn := newTenant(t, e)
			setupZoo(tn)
			p := tn.zooPlan(plan.KindRetention)
			p.Rules = zooInactiveRules()
			want := rowChange{
				changed: tn.idsOf("Customer", "customer_id IN (2, 5, 7, 9)", "address", "address_id IN (6, 9, 11, 12)"),
				deleted: tn.ids("payment", "payment_id IN (3, 5)"),
			}
			before := tn.zooSnapshot()
			r := tn.mustSucceed(p)
			for rule, lines := range zooInactiveOutcomes {
				checkOutcomes(t, r, rule, lines...)
			}
			after := tn.zooSnapshot()
			checkZooRows(t, before, after, want)
			checkZooIntegrity(t, tn)

			again := tn.mustSucceed(p)
			if n := changedRows(again); n != 0 {
				t.Errorf("second run changed %d rows, want 0: %q", n, outcomes(again, ""))
			}
			checkOutcomes(t, again, "inactive-customers", "Customer guarded 2")
			checkZooRows(t, after, tn.zooSnapshot(), rowChange{})
		})
	}
}

func TestZooRetentionSelectsOrphansOnlyWhenTheRuleSaysSo(t *testing.T) {
	for _, e := range engines {
		t.Run(e, func(t *testing.T) {
			t.Parallel()
			tn := newTenant(t, e)
			setupZoo(tn)
			rule := plan.Rule{Name: "old-payments", Table: "payment", Action: plan.ActionDelete, InactiveFor: "P3Y", Activity: []string{"payment.paid_at"}}
			p := tn.zooPlan(plan.KindPreview)
			p.Rules = []plan.Rule{rule}
			checkOutcomes(t, tn.mustSucceed(p), "old-payments", "payment wouldDelete 2")
			rule.IncludeOrphans = true
			p.Rules = []plan.Rule{rule}
			// Payment 4 has no customer and is old; payment 6 has none and is recent.
			checkOutcomes(t, tn.mustSucceed(p), "old-payments", "payment wouldDelete 3")
		})
	}
}

// zooAgeRules delete by age: invoice lines (their held invoices keep theirs; refunds
// keep theirs), old tickets, and addresses untouched for ten years (the one nobody uses).
// Every invoice line of the zoo is over a year old, so old-lines says allRows.
func zooAgeRules() []plan.Rule {
	return []plan.Rule{
		{Name: "old-lines", Table: "invoice_line", Action: plan.ActionDelete, OlderThan: "P1Y", Column: "created_at", AllRows: true},
		{Name: "old-tickets", Table: "support_ticket", Action: plan.ActionDelete, OlderThan: "P3Y", Column: "created_at"},
		{Name: "stale-addresses", Table: "address", Action: plan.ActionDelete, OlderThan: "P10Y", Column: "last_update"},
	}
}

var zooAgeOutcomes = map[string][]string{
	"old-lines": {"invoice_line deleted 1", "invoice_line referenced 2 by refund",
		"invoice_line retained 5 until 2031-03-01 (bookkeeping-law)"},
	"old-tickets":     {"support_ticket deleted 2"},
	"stale-addresses": {"address deleted 1"},
}

func TestZooRetentionByAgeKeepsWhatHoldsAndReferencesNeed(t *testing.T) {
	for _, e := range engines {
		t.Run(e, func(t *testing.T) {
			t.Parallel()
			tn := newTenant(t, e)
			setupZoo(tn)
			p := tn.zooPlan(plan.KindRetention)
			p.Rules = zooAgeRules()
			want := rowChange{
				changed: tn.idsOf("invoice_line", "invoice_id IN (101, 500) AND line_no = 1"),
				deleted: tn.idsOf("invoice_line", "invoice_id = 500 AND line_no = 2", "support_ticket", "ticket_id IN (2, 3)",
					"address", "address_id = 7"),
			}
			before := tn.zooSnapshot()
			r := tn.mustSucceed(p)
			for rule, lines := range zooAgeOutcomes {
				checkOutcomes(t, r, rule, lines...)
			}
			checkZooRows(t, before, tn.zooSnapshot(), want)
			checkZooIntegrity(t, tn)
		})
	}
}

func TestZooDryRunCountsWhatTheRunsDoAndChangesNothing(t *testing.T) {
	for _, e := range engines {
		t.Run(e, func(t *testing.T) {
			t.Parallel()
			tn := newTenant(t, e)
			setupZoo(tn)
			before := tn.zooSnapshot()
			for _, run := range []struct {
				rules []plan.Rule
				want  map[string][]string
			}{{zooInactiveRules(), zooInactiveOutcomes}, {zooAgeRules(), zooAgeOutcomes}} {
				p := tn.zooPlan(plan.KindPreview)
				p.Rules = run.rules
				r := tn.mustSucceed(p)
				for rule, lines := range run.want {
					checkOutcomes(t, r, rule, wouldLines(lines)...)
				}
			}
			checkZooRows(t, before, tn.zooSnapshot(), rowChange{})
		})
	}
}
