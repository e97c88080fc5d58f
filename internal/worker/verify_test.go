package worker_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/lethe-operator/lethe/internal/plan"
)

func TestVerifyAcceptsAMatchingDataMap(t *testing.T) {
	for _, e := range engines {
		t.Run(e, func(t *testing.T) {
			t.Parallel()
			tn := newTenant(t, e)
			setupBooking(tn)
			p := tn.plan(plan.KindVerify)
			p.Rules = retentionRules()
			r := tn.mustSucceed(p)
			if len(r.Mismatches) != 0 || len(r.Results) != 0 {
				t.Fatalf("report = %+v", r)
			}
		})
	}
}

func TestVerifyListsEveryMismatch(t *testing.T) {
	for _, e := range engines {
		t.Run(e, func(t *testing.T) {
			t.Parallel()
			tn := newTenant(t, e)
			setupBooking(tn)
			before := tn.checksum(bookingTables...)
			p := tn.plan(plan.KindVerify)
			tables := p.DataMap.Tables
			tables[0].PrimaryKey = []string{"id", "nope_pk"}
			tables[0].Identifiers["username"] = "username"
			tables[0].Columns[0].Mask = plan.Mask{Strategy: plan.StrategyNullify}                             // email is NOT NULL
			tables[0].Columns[5].Mask = plan.Mask{Strategy: plan.StrategyGeneralize, To: plan.GeneralizeYear} // postcode is text
			tables[0].Columns = append(tables[0].Columns, plan.Column{Name: "shoe_size", Mask: plan.Mask{Strategy: "keep"}})
			tables[1].SubjectVia.Columns = []string{"client_id"}
			tables[2].SubjectVia.ReferencedColumns = []string{"id", "client"}
			tables[3].LegalHold.From = "issued_on"
			tables[4].Columns[0].Mask = plan.Mask{Strategy: plan.StrategyHash} // no error: hash key is set
			p.DataMap.Tables = append(tables, plan.Table{Name: "newsletter", PrimaryKey: []string{"id"}})
			p.Rules = []plan.Rule{{Name: "inactive", Table: "customers", Action: plan.ActionAnonymize,
				InactiveFor: "P3Y", Activity: []string{"customers.last_seen", "bookings.created_at"}}}
			r := tn.run(p)
			if r.Succeeded {
				t.Fatal("verify succeeded with mismatches")
			}
			want := []plan.Mismatch{
				{Table: "customers", Column: "nope_pk", Code: plan.ErrMissingColumn},
				{Table: "customers", Column: "username", Code: plan.ErrMissingColumn},
				{Table: "customers", Column: "email", Code: plan.ErrIncompatible},
				{Table: "customers", Column: "postcode", Code: plan.ErrIncompatible},
				{Table: "customers", Column: "shoe_size", Code: plan.ErrMissingColumn},
				{Table: "bookings", Column: "client_id", Code: plan.ErrMissingColumn},
				{Table: "bookings", Column: "client", Code: plan.ErrMissingColumn},
				{Table: "invoices", Column: "issued_on", Code: plan.ErrMissingColumn},
				{Table: "newsletter", Code: plan.ErrMissingTable},
				{Table: "customers", Column: "last_seen", Code: plan.ErrMissingColumn},
			}
			for _, w := range want {
				if !hasMismatch(r.Mismatches, w) {
					b, _ := json.MarshalIndent(r.Mismatches, "", "  ")
					t.Errorf("missing mismatch %+v in\n%s", w, b)
				}
			}
			for _, m := range r.Mismatches {
				if m.Message == "" || m.Table == "" {
					t.Errorf("mismatch without message or table: %+v", m)
				}
			}
			if after := tn.checksum(bookingTables...); after != before {
				t.Fatal("verify changed data")
			}
		})
	}
}

func hasMismatch(ms []plan.Mismatch, want plan.Mismatch) bool {
	for _, m := range ms {
		if m.Table == want.Table && m.Column == want.Column && m.Code == want.Code {
			return true
		}
	}
	return false
}

func TestVerifyRefusesStrategiesThatBreakConstraints(t *testing.T) {
	cases := []struct {
		table, column string
		mask          plan.Mask
	}{
		{"customers", "email", plan.Mask{Strategy: plan.StrategyRedact}},                                       // UNIQUE
		{"customers", "email", plan.Mask{Strategy: plan.StrategyNullify}},                                      // NOT NULL
		{"customers", "id", plan.Mask{Strategy: plan.StrategyHash}},                                            // primary key, referenced
		{"bookings", "customer_id", plan.Mask{Strategy: plan.StrategyNullify}},                                 // foreign key
		{"customers", "full_name", plan.Mask{Strategy: plan.StrategyRedact, Value: string(make([]byte, 300))}}, // too long
		{"customers", "birth_date", plan.Mask{Strategy: plan.StrategyFakeEmail}},                               // type
	}
	for _, e := range engines {
		t.Run(e, func(t *testing.T) {
			t.Parallel()
			tn := newTenant(t, e)
			setupBooking(tn)
			for _, c := range cases {
				t.Run(fmt.Sprintf("%s.%s/%s", c.table, c.column, c.mask.Strategy), func(t *testing.T) {
					p := tn.plan(plan.KindVerify)
					setMask(&p, c.table, c.column, c.mask)
					r := tn.run(p)
					if r.Succeeded || !hasMismatch(r.Mismatches, plan.Mismatch{Table: c.table, Column: c.column, Code: plan.ErrIncompatible}) {
						t.Fatalf("want an IncompatibleStrategy mismatch, got %+v", r.Mismatches)
					}
				})
			}
		})
	}
}

// setMask sets (or adds) the mask of a column in the plan's DataMap.
func setMask(p *plan.Plan, table, column string, m plan.Mask) {
	for i := range p.DataMap.Tables {
		tbl := &p.DataMap.Tables[i]
		if tbl.Name != table {
			continue
		}
		for j := range tbl.Columns {
			if tbl.Columns[j].Name == column {
				tbl.Columns[j].Mask = m
				return
			}
		}
		tbl.Columns = append(tbl.Columns, plan.Column{Name: column, Mask: m})
	}
}
