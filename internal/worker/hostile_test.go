package worker_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/lethe-operator/lethe/internal/plan"
)

// hostilePlans are plans with one hostile or unknown identifier each; everything else in
// them is a valid retention or erasure plan that would change rows.
var hostilePlans = []struct {
	name   string
	change func(tn *tenant, p *plan.Plan)
}{
	{"table with a quote and a statement", func(_ *tenant, p *plan.Plan) {
		p.DataMap.Tables[4].Name = `support_tickets"; DROP TABLE bookings; --`
	}},
	{"table with a semicolon", func(_ *tenant, p *plan.Plan) { p.Rules[0].Table = "customers; DROP TABLE x" }},
	{"column with a quote", func(_ *tenant, p *plan.Plan) { p.DataMap.Tables[0].Columns[1].Name = "full_name' OR '1'='1" }},
	{"column with a block comment", func(_ *tenant, p *plan.Plan) { p.DataMap.Tables[0].Columns[1].Name = "full_name/* */" }},
	{"column with a line comment", func(_ *tenant, p *plan.Plan) { p.Rules[0].Columns = []string{"alias -- "} }},
	{"column with a backtick", func(_ *tenant, p *plan.Plan) { p.DataMap.Tables[0].Columns[1].Name = "full_name` = 'x', `email" }},
	{"Cyrillic look-alike table", func(_ *tenant, p *plan.Plan) { p.DataMap.Tables[0].Name = "сustomers" }},
	{"Cyrillic look-alike column", func(_ *tenant, p *plan.Plan) { p.DataMap.Tables[0].Columns[0].Name = "еmail" }},
	{"NUL byte in a table name", func(_ *tenant, p *plan.Plan) { p.DataMap.Tables[1].Name = "bookings\x00" }},
	{"table in the database but not in the map", func(_ *tenant, p *plan.Plan) { p.Rules[0].Table = "x" }},
	{"table in neither", func(_ *tenant, p *plan.Plan) { p.Rules[0].Table = "newsletter" }},
	{"where column with an expression", func(_ *tenant, p *plan.Plan) {
		p.Rules[0].Where = []plan.Condition{{Column: "alias_consent OR 1=1", Op: plan.OpEq, Value: "false"}}
	}},
	{"activity with a statement", func(_ *tenant, p *plan.Plan) {
		p.Rules[0].Activity = []string{"customers.last_login_at; DROP TABLE customers"}
	}},
	{"primary key with a parenthesis", func(_ *tenant, p *plan.Plan) { p.DataMap.Tables[1].PrimaryKey = []string{"id) OR (1=1"} }},
	{"subjectVia table with a quote", func(_ *tenant, p *plan.Plan) { p.DataMap.Tables[3].SubjectVia.Table = `customers" --` }},
	{"identity type with a statement", func(tn *tenant, p *plan.Plan) {
		p.Kind, p.Rules = plan.KindErasure, nil
		p.Subjects = []plan.Subject{tn.subject("req", "email; DELETE FROM customers", "alice@example.com", "")}
	}},
	{"operator with SQL", func(_ *tenant, p *plan.Plan) {
		p.Rules[0].Where = []plan.Condition{{Column: "alias", Op: "= alias OR 1=1 --", Value: "x"}}
	}},
}

func TestHostileIdentifiersAreRefusedAndChangeNothing(t *testing.T) {
	refusals := []string{plan.ErrMissingTable, plan.ErrMissingColumn, plan.ErrUnknownIdentifier, plan.ErrInvalidPlan}
	for _, e := range engines {
		t.Run(e, func(t *testing.T) {
			t.Parallel()
			tn := newTenant(t, e)
			setupBooking(tn)
			tn.exec("CREATE TABLE x (id INT PRIMARY KEY, note VARCHAR(20))", "INSERT INTO x VALUES (1, 'keep me')")
			tables := append(slices.Clone(bookingTables), "x")
			before := tn.checksum(tables...)
			for _, h := range hostilePlans {
				t.Run(h.name, func(t *testing.T) {
					p := tn.plan(plan.KindRetention)
					p.Rules = []plan.Rule{
						{Name: "alias", Table: "customers", Action: plan.ActionAnonymize, Columns: []string{"alias"},
							InactiveFor: "P1D", Activity: []string{"customers.last_login_at"}},
						{Name: "tickets", Table: "support_tickets", Action: plan.ActionDelete, OlderThan: "P1D", Column: "created_at"},
					}
					h.change(tn, &p)
					r := tn.run(p)
					if r.Succeeded || len(r.Errors) == 0 || len(r.Results) != 0 {
						t.Fatalf("hostile plan was not refused: %+v", r)
					}
					for _, err := range r.Errors {
						if !slices.Contains(refusals, err.Code) || err.Message == "" {
							t.Errorf("error %+v: want a refusal code with a message", err)
						}
					}
					t.Logf("%s: %s", r.Errors[0].Code, r.Errors[0].Message)
					if after := tn.checksum(tables...); after != before {
						t.Fatal("data changed")
					}
				})
			}
			if strings.Count(tn.value("SELECT COUNT(*) FROM x"), "1") != 1 {
				t.Fatal("table x lost its row")
			}
		})
	}
}
