package worker_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/lethe-operator/lethe/internal/plan"
	"github.com/lethe-operator/lethe/internal/worker"
)

// refusal is a retention rule that must be refused before the run changes anything.
type refusal struct {
	name string
	rule plan.Rule
	code string
	// rows is what the refused outcome reports: the rows the rule would have changed.
	rows int64
}

// refusals are rules whose condition spares nothing (or almost nothing) in the booking
// fixture, each a mistake a careless user makes.
func refusals() []refusal {
	return []refusal{
		{"notNull on a NOT NULL column", plan.Rule{Name: "tautology", Table: "customers", Action: plan.ActionDelete,
			Where: []plan.Condition{{Column: "email", Op: plan.OpNotNull}}}, plan.ErrRuleMatchesEveryRow, 6},
		{"ne a value nobody has", plan.Rule{Name: "nobody", Table: "customers", Action: plan.ActionAnonymize,
			Where: []plan.Condition{{Column: "country", Op: plan.OpNe, Value: "ZZ"}}}, plan.ErrRuleMatchesEveryRow, 6},
		{"lt a date every row passes", plan.Rule{Name: "future", Table: "support_tickets", Action: plan.ActionDelete,
			Where: []plan.Condition{{Column: "created_at", Op: plan.OpLt, Value: "2100-01-01"}}}, plan.ErrRuleMatchesEveryRow, 4},
		{"olderThan one second", plan.Rule{Name: "second", Table: "customers", Action: plan.ActionAnonymize,
			OlderThan: "PT1S", Column: "created_at"}, plan.ErrRuleMatchesEveryRow, 6},
		{"inactive for one second", plan.Rule{Name: "everyone", Table: "customers", Action: plan.ActionAnonymize,
			InactiveFor: "PT1S", Activity: []string{"customers.last_login_at"}}, plan.ErrRuleMatchesEveryRow, 6},
		{"in every value there is", plan.Rule{Name: "every-country", Table: "bookings", Action: plan.ActionDelete,
			Where: []plan.Condition{{Column: "hotel", Op: plan.OpIn, Values: []string{"Aurora", "Borealis"}}}}, plan.ErrRuleMatchesEveryRow, 4},
		{"above maxRows", plan.Rule{Name: "capped", Table: "support_tickets", Action: plan.ActionDelete,
			OlderThan: "P3M", Column: "created_at", MaxRows: 2}, plan.ErrRuleAboveCeiling, 3},
		{"above maxPercent", plan.Rule{Name: "half", Table: "support_tickets", Action: plan.ActionDelete,
			OlderThan: "P3M", Column: "created_at", MaxPercent: 50}, plan.ErrRuleAboveCeiling, 3},
	}
}

// TestRulesThatSpareNothingAreRefusedBeforeAnythingChanges runs each refused rule after a
// rule that is fine on its own: the run is refused as a whole, so the first rule does not
// run either, and every row of every table is as it was.
func TestRulesThatSpareNothingAreRefusedBeforeAnythingChanges(t *testing.T) {
	for _, e := range engines {
		t.Run(e, func(t *testing.T) {
			t.Parallel()
			for _, c := range refusals() {
				t.Run(c.name, func(t *testing.T) {
					tn := newTenant(t, e)
					setupBooking(tn)
					before := tn.checksum(bookingTables...)
					fine := plan.Rule{Name: "guests-without-email", Table: "booking_guests", Action: plan.ActionDelete,
						Where: []plan.Condition{{Column: "guest_email", Op: plan.OpIsNull}}}
					p := tn.plan(plan.KindRetention)
					p.Rules = []plan.Rule{fine, c.rule}
					code, r, _ := runMain(t, p)
					if code != worker.ExitFinal || r.Succeeded {
						t.Fatalf("exit %d, succeeded %v: %+v", code, r.Succeeded, r)
					}
					if len(r.Errors) != 1 || r.Errors[0].Code != c.code || !strings.Contains(r.Errors[0].Message, c.rule.Name) {
						t.Fatalf("errors = %+v, want one %s naming the rule", r.Errors, c.code)
					}
					if got := result(t, r, c.rule.Table, plan.OutcomeRefused, c.rule.Name); got.Rows != c.rows {
						t.Errorf("refused outcome reports %d rows, want %d", got.Rows, c.rows)
					}
					if changedRows(r) != 0 {
						t.Errorf("a refused run reports changes: %+v", r.Results)
					}
					if after := tn.checksum(bookingTables...); after != before {
						t.Fatal("a refused run changed the database")
					}
					t.Logf("%s: %s", r.Errors[0].Code, r.Errors[0].Message)
				})
			}
		})
	}
}

// TestADryRunSaysWhatARunWouldRefuse: a preview counts every rule as usual, marks the
// rule a run would refuse, and fails with the same code.
func TestADryRunSaysWhatARunWouldRefuse(t *testing.T) {
	for _, e := range engines {
		t.Run(e, func(t *testing.T) {
			t.Parallel()
			tn := newTenant(t, e)
			setupBooking(tn)
			before := tn.checksum(bookingTables...)
			p := tn.plan(plan.KindPreview)
			p.Rules = []plan.Rule{
				{Name: "support-mail", Table: "support_tickets", Action: plan.ActionDelete, OlderThan: "P3M", Column: "created_at"},
				refusals()[0].rule,
			}
			code, r, _ := runMain(t, p)
			if code != worker.ExitFinal || len(r.Errors) != 1 || r.Errors[0].Code != plan.ErrRuleMatchesEveryRow {
				t.Fatalf("exit %d, errors %+v", code, r.Errors)
			}
			if !strings.Contains(r.Errors[0].Message, "a run would be refused") {
				t.Errorf("message does not say a run would be refused: %s", r.Errors[0].Message)
			}
			if got := result(t, r, "support_tickets", plan.OutcomeWouldDelete, "support-mail"); got.Rows != 3 {
				t.Errorf("the dry run counts %d support tickets, want 3", got.Rows)
			}
			if got := result(t, r, "customers", plan.OutcomeWouldDelete, "tautology"); got.Rows == 0 {
				t.Errorf("the dry run does not count the refused rule: %+v", got)
			}
			result(t, r, "customers", plan.OutcomeRefused, "tautology")
			if tn.checksum(bookingTables...) != before {
				t.Fatal("a dry run changed the database")
			}
		})
	}
}

// TestARuleThatSaysAllRowsRuns: allRows lets a rule match every row (and raises its
// default ceiling to 100%), and an explicit maxPercent still applies to it.
func TestARuleThatSaysAllRowsRuns(t *testing.T) {
	for _, e := range engines {
		t.Run(e, func(t *testing.T) {
			t.Parallel()
			tn := newTenant(t, e)
			setupBooking(tn)
			p := tn.plan(plan.KindRetention)
			p.Rules = []plan.Rule{{Name: "all-tickets", Table: "support_tickets", Action: plan.ActionDelete, AllRows: true}}
			r := tn.mustSucceed(p)
			if got := result(t, r, "support_tickets", plan.OutcomeDeleted, "all-tickets"); got.Rows != 4 {
				t.Errorf("deleted %d tickets, want 4", got.Rows)
			}
			setupTickets(tn, 10)
			p.Rules[0].MaxPercent = 50
			code, r, _ := runMain(t, p)
			if code != worker.ExitFinal || len(r.Errors) != 1 || r.Errors[0].Code != plan.ErrRuleAboveCeiling {
				t.Fatalf("allRows with maxPercent 50: exit %d, errors %+v", code, r.Errors)
			}
		})
	}
}

// TestTheDefaultCeilingRefusesNearlyEveryRow: a condition that spares one row in twenty
// (95%) is above the default ceiling of 90%; one that spares one in five runs.
func TestTheDefaultCeilingRefusesNearlyEveryRow(t *testing.T) {
	for _, e := range engines {
		t.Run(e, func(t *testing.T) {
			t.Parallel()
			tn := newTenant(t, e)
			setupBooking(tn)
			tn.exec("DELETE FROM support_tickets")
			setupTickets(tn, 20)
			before := tn.checksum("support_tickets")
			p := tn.plan(plan.KindRetention)
			p.Rules = []plan.Rule{{Name: "all-but-one", Table: "support_tickets", Action: plan.ActionDelete,
				Where: []plan.Condition{{Column: "id", Op: plan.OpGt, Value: "1"}}}}
			code, r, _ := runMain(t, p)
			if code != worker.ExitFinal || len(r.Errors) != 1 || r.Errors[0].Code != plan.ErrRuleAboveCeiling ||
				!strings.Contains(r.Errors[0].Message, "19 of the 20 rows") || !strings.Contains(r.Errors[0].Message, "maxPercent of 90%") {
				t.Fatalf("exit %d, errors %+v", code, r.Errors)
			}
			if tn.checksum("support_tickets") != before {
				t.Fatal("a refused run changed the table")
			}
			p.Rules[0].Where[0].Value = "4"
			if got := result(t, tn.mustSucceed(p), "support_tickets", plan.OutcomeDeleted, "all-but-one"); got.Rows != 16 {
				t.Errorf("deleted %d, want 16 (80%%)", got.Rows)
			}
		})
	}
}

// setupTickets adds n old support tickets of customer 1, ids 1 to n.
func setupTickets(tn *tenant, n int) {
	tn.t.Helper()
	for i := 1; i <= n; i++ {
		tn.exec(fmt.Sprintf("INSERT INTO support_tickets VALUES (%d, 1, 'old question', '2020-01-01 00:00:00')", i))
	}
}

// TestShardsDecideAlikeAndReportTheRowsOnce: every shard of an Indexed Job counts the whole
// table, so each refuses; the first reports the rows, so their sum is the table's.
func TestShardsDecideAlikeAndReportTheRowsOnce(t *testing.T) {
	tn := newTenant(t, engines[0])
	setupBooking(tn)
	before := tn.checksum(bookingTables...)
	var total int64
	for index := range 2 {
		p := tn.plan(plan.KindRetention)
		p.Rules = []plan.Rule{refusals()[0].rule}
		p.Options.Shard = &plan.Shard{Index: index, Count: 2}
		r := tn.run(p)
		if r.Succeeded || len(r.Errors) != 1 || r.Errors[0].Code != plan.ErrRuleMatchesEveryRow {
			t.Fatalf("shard %d: %+v", index, r.Errors)
		}
		total += result(t, r, "customers", plan.OutcomeRefused, "tautology").Rows
	}
	if total != 6 {
		t.Errorf("the shards report %d refused rows in all, want 6", total)
	}
	if tn.checksum(bookingTables...) != before {
		t.Fatal("a refused shard changed the database")
	}
}

// TestAPlanWrittenByHandGetsTheSameChecks: what the API server refuses is refused again by
// the worker, for plans that never went through it; these are fixed outcomes (ExitFinal).
func TestAPlanWrittenByHandGetsTheSameChecks(t *testing.T) {
	cases := []struct {
		name   string
		change func(tn *tenant, p *plan.Plan)
		code   string
		says   string
	}{
		{"no condition", func(_ *tenant, p *plan.Plan) {
			p.Rules = []plan.Rule{{Name: "bare", Table: "support_tickets", Action: plan.ActionDelete}}
		}, plan.ErrRuleMatchesEveryRow, "has no olderThan, inactiveFor or where"},
		{"zero age", func(_ *tenant, p *plan.Plan) {
			p.Rules = []plan.Rule{{Name: "zero", Table: "support_tickets", Action: plan.ActionDelete, OlderThan: "P0D", Column: "created_at"}}
		}, plan.ErrInvalidPlan, "a zero duration is refused"},
		{"zero inactivity", func(_ *tenant, p *plan.Plan) {
			p.Rules = []plan.Rule{{Name: "zero", Table: "customers", Action: plan.ActionAnonymize, InactiveFor: "PT0S", Activity: []string{"customers.last_login_at"}}}
		}, plan.ErrInvalidPlan, "a zero duration is refused"},
		{"absurd age", func(_ *tenant, p *plan.Plan) {
			p.Rules = []plan.Rule{{Name: "forever", Table: "support_tickets", Action: plan.ActionDelete, OlderThan: "P99999Y", Column: "created_at"}}
		}, plan.ErrInvalidPlan, "longer than 100 years"},
		{"maxPercent above 100", func(_ *tenant, p *plan.Plan) {
			p.Rules = []plan.Rule{{Name: "over", Table: "support_tickets", Action: plan.ActionDelete, OlderThan: "P3M", Column: "created_at", MaxPercent: 150}}
		}, plan.ErrInvalidPlan, "maxPercent 150"},
		{"NUL in a condition value", func(_ *tenant, p *plan.Plan) {
			p.Rules = []plan.Rule{{Name: "nul", Table: "customers", Action: plan.ActionDelete,
				Where: []plan.Condition{{Column: "country", Op: plan.OpEq, Value: "G\x00B"}}}}
		}, plan.ErrInvalidPlan, `condition on "country": the value contains a NUL character`},
		{"NUL in an in list", func(_ *tenant, p *plan.Plan) {
			p.Rules = []plan.Rule{{Name: "nul", Table: "customers", Action: plan.ActionDelete,
				Where: []plan.Condition{{Column: "country", Op: plan.OpIn, Values: []string{"GB", "\x00"}}}}}
		}, plan.ErrInvalidPlan, "NUL character"},
		{"a redact constant with NUL", func(_ *tenant, p *plan.Plan) {
			p.Kind = plan.KindErasure
			p.DataMap.Tables[0].Columns[1].Mask.Value = "gone\x00"
		}, plan.ErrIncompatible, "NUL character"},
		{"a subject identifier with NUL", func(tn *tenant, p *plan.Plan) {
			p.Kind = plan.KindErasure
			p.Subjects = []plan.Subject{tn.subject("req-nul", "email", "alice@example.com\x00", "")}
		}, plan.ErrInvalidPlan, "NUL character"},
		{"a subject identifier that is not UTF-8", func(tn *tenant, p *plan.Plan) {
			p.Kind = plan.KindErasure
			p.Subjects = []plan.Subject{tn.subject("req-latin1", "email", "j\xf6rg@example.com", "")}
		}, plan.ErrInvalidPlan, "not UTF-8"},
		{"a timeout that would turn the bound off", func(_ *tenant, p *plan.Plan) { p.Options.StatementTimeout = "999us" },
			plan.ErrInvalidPlan, "at least 1ms"},
		{"a metadata address as host", func(_ *tenant, p *plan.Plan) { p.Database.Host = "169.254.169.254" },
			plan.ErrHostNotAllowed, "is a cloud metadata endpoint"},
		{"a metadata name as host", func(_ *tenant, p *plan.Plan) { p.Database.Host = "Metadata.Google.Internal." },
			plan.ErrHostNotAllowed, "the name of a cloud metadata service"},
		{"an IPv4-mapped link-local host", func(_ *tenant, p *plan.Plan) { p.Database.Host = "::ffff:169.254.10.10" },
			plan.ErrHostNotAllowed, "link-local"},
	}
	for _, e := range engines {
		t.Run(e, func(t *testing.T) {
			t.Parallel()
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					tn := newTenant(t, e)
					setupBooking(tn)
					before := tn.checksum(bookingTables...)
					p := tn.plan(plan.KindRetention)
					c.change(tn, &p)
					code, r, _ := runMain(t, p)
					if code != worker.ExitFinal || len(r.Errors) == 0 || r.Errors[0].Code != c.code || !strings.Contains(r.Errors[0].Message, c.says) {
						t.Fatalf("exit %d, errors %+v; want exit %d and %s saying %q", code, r.Errors, worker.ExitFinal, c.code, c.says)
					}
					if tn.checksum(bookingTables...) != before {
						t.Fatal("the refused plan changed the database")
					}
				})
			}
		})
	}
}

// TestExitCodesTellFixedOutcomesFromTransientOnes is what the Job's pod failure policy
// acts on: a retry cannot fix a schema mismatch, and may fix an unreachable database.
func TestExitCodesTellFixedOutcomesFromTransientOnes(t *testing.T) {
	cases := []struct {
		report plan.Report
		exit   int
	}{
		{plan.Report{Succeeded: true}, worker.ExitSucceeded},
		{plan.Report{Mismatches: []plan.Mismatch{{Code: plan.ErrMissingColumn}}}, worker.ExitFinal},
		{plan.Report{Errors: []plan.Error{{Code: plan.ErrRuleAboveCeiling}}}, worker.ExitFinal},
		{plan.Report{Errors: []plan.Error{{Code: plan.ErrAuthentication}}}, worker.ExitFinal},
		{plan.Report{Errors: []plan.Error{{Code: plan.ErrUnreachable}}}, worker.ExitFailed},
		{plan.Report{Errors: []plan.Error{{Code: plan.ErrInvalidPlan}, {Code: plan.ErrTimeout}}}, worker.ExitFailed},
		{plan.Report{Errors: []plan.Error{{Code: plan.ErrInternal}}}, worker.ExitFailed},
		{plan.Report{}, worker.ExitFailed},
	}
	for _, c := range cases {
		if got := worker.ExitCode(c.report); got != c.exit {
			t.Errorf("ExitCode(%+v) = %d, want %d", c.report, got, c.exit)
		}
	}
}
