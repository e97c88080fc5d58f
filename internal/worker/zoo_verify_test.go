package worker_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/lethe-operator/lethe/internal/plan"
)

// zooTableSpec returns the zoo DataMap's table named name.
func zooTableSpec(dm *plan.DataMap, name string) *plan.Table {
	for i := range dm.Tables {
		if dm.Tables[i].Name == name {
			return &dm.Tables[i]
		}
	}
	panic("no zoo table " + name)
}

// TestVerifyChecksEveryLinkAgainstTheCatalog: links are backed by a foreign key (or say
// they are not), land on a key, run the way the foreign key runs, and name their columns
// when two foreign keys could be meant; holds and guards name what exists.
func TestVerifyChecksEveryLinkAgainstTheCatalog(t *testing.T) {
	noteTable := func(link plan.Link) plan.Table {
		return plan.Table{Name: "legacy_note", PrimaryKey: []string{"note_id"}, SubjectVia: &link,
			Columns: []plan.Column{{Name: "body", Category: "free-text", Mask: plan.Mask{Strategy: plan.StrategyRedact}}}}
	}
	cases := []struct {
		name  string
		edit  func(dm *plan.DataMap)
		table string
		want  string // "" means the DataMap matches
	}{
		{"the zoo's DataMap", func(*plan.DataMap) {}, "", ""},
		{"a link written backwards", func(dm *plan.DataMap) {
			a := zooTableSpec(dm, "address")
			a.ReferencedBy, a.SubjectVia = nil, &plan.Link{Table: "Customer"}
		}, "address", `no foreign key runs from table "address" to table "Customer"`},
		{"a link with no foreign key", func(dm *plan.DataMap) {
			dm.Tables = append(dm.Tables, noteTable(plan.Link{Table: "Customer", Columns: []string{"cust_ref"}}))
		}, "legacy_note", `set unenforced: true if the application keeps this link without a foreign key`},
		{"an unenforced link on purpose", func(dm *plan.DataMap) {
			dm.Tables = append(dm.Tables, noteTable(plan.Link{Table: "Customer", Columns: []string{"cust_ref"}, Unenforced: true}))
		}, "", ""},
		{"an unenforced link to a column that is no key", func(dm *plan.DataMap) {
			dm.Tables = append(dm.Tables, noteTable(plan.Link{Table: "Customer", Columns: []string{"cust_ref"},
				ReferencedColumns: []string{"account_id"}, Unenforced: true}))
		}, "legacy_note", `Customer (account_id) is neither the primary key nor a NOT NULL unique key of table "Customer", so one legacy_note row could reach several Customer rows`},
		{"two foreign keys to choose from", func(dm *plan.DataMap) {
			dm.Tables = append(dm.Tables, plan.Table{Name: "referral", PrimaryKey: []string{"referral_id"}, SubjectVia: &plan.Link{Table: "Customer"}})
		}, "referral", `2 foreign keys run from table "referral" to table "Customer" ((referrer_id) → (customer_id); (referred_id) → (customer_id)): name the columns`},
		{"one of them, named", func(dm *plan.DataMap) {
			dm.Tables = append(dm.Tables, plan.Table{Name: "referral", PrimaryKey: []string{"referral_id"},
				SubjectVia: &plan.Link{Table: "Customer", Columns: []string{"referred_id"}}})
		}, "", ""},
		{"columns no foreign key has", func(dm *plan.DataMap) {
			zooTableSpec(dm, "payment").SubjectVia = &plan.Link{Table: "Customer", Columns: []string{"payment_id"}}
		}, "payment", `its foreign keys to it: (customer_id) → (customer_id)`},
		{"a hold from a table that is not on the way", func(dm *plan.DataMap) {
			zooTableSpec(dm, "invoice_line").LegalHold = &plan.LegalHold{Basis: "law", RetainFor: "P7Y", From: "staff.last_update"}
		}, "invoice_line", `table "staff" is not a table this one links to`},
		{"a hold from an ancestor's column", func(dm *plan.DataMap) {
			zooTableSpec(dm, "refund").LegalHold = &plan.LegalHold{Basis: "law", RetainFor: "P7Y", From: "invoice.issued_at"}
		}, "", ""},
		{"a guard on a column that does not exist", func(dm *plan.DataMap) {
			zooTableSpec(dm, "Customer").Guards[0].Per = []string{"tenant_id"}
		}, "Customer", `column "tenant_id" does not exist`},
		{"nullify on the nullable column a link joins on", func(dm *plan.DataMap) {
			c := zooTableSpec(dm, "payment")
			c.Columns = append(c.Columns, plan.Column{Name: "customer_id", Mask: plan.Mask{Strategy: plan.StrategyNullify}})
		}, "payment", `would change a primary key or a column of a subjectVia or referencedBy link`},
		{"hash on a foreign key", func(dm *plan.DataMap) {
			zooTableSpec(dm, "Customer").Columns[3].Mask = plan.Mask{Strategy: plan.StrategyHash}
		}, "Customer", `hash on a foreign-key column would point it at a row that does not exist`},
		{"normalisation that does not exist", func(dm *plan.DataMap) {
			dm.IdentityTypes = map[string]plan.IdentityType{"email": {Normalize: []string{"soundex"}}}
		}, "", `unknown normalisation step "soundex"`},
	}
	for _, e := range engines {
		t.Run(e, func(t *testing.T) {
			t.Parallel()
			tn := newTenant(t, e)
			setupZoo(tn)
			tn.exec(
				`CREATE TABLE legacy_note (note_id BIGINT PRIMARY KEY, cust_ref BIGINT NULL, body VARCHAR(200) NULL)`,
				`CREATE TABLE referral (referral_id BIGINT PRIMARY KEY, referrer_id BIGINT NOT NULL, referred_id BIGINT NOT NULL,
				  FOREIGN KEY (referrer_id) REFERENCES `+tn.q("Customer")+` (customer_id),
				  FOREIGN KEY (referred_id) REFERENCES `+tn.q("Customer")+` (customer_id))`)
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					p := tn.zooPlan(plan.KindVerify)
					c.edit(&p.DataMap)
					r := tn.run(p)
					b, _ := json.MarshalIndent(r.Mismatches, "", "  ")
					if c.want == "" {
						if !r.Succeeded || len(r.Mismatches) > 0 {
							t.Fatalf("want no mismatch, got %s %+v", b, r.Errors)
						}
						return
					}
					for _, m := range r.Mismatches {
						if m.Table == c.table && strings.Contains(m.Message, c.want) {
							return
						}
					}
					t.Fatalf("want a mismatch on table %q saying %q, got %s", c.table, c.want, b)
				})
			}
		})
	}
}

// TestErasureMatchesIdentifiersAsTheIdentityTypeSays: exact e-mail matching finds only
// the identifier in its stored case; digits matching finds a phone number however it
// is written.
func TestErasureMatchesIdentifiersAsTheIdentityTypeSays(t *testing.T) {
	for _, e := range engines {
		t.Run(e, func(t *testing.T) {
			t.Parallel()
			tn := newTenant(t, e)
			setupZoo(tn)
			p := tn.zooPlan(plan.KindPreview)
			p.DataMap.IdentityTypes = map[string]plan.IdentityType{"email": {Normalize: []string{"exact"}}, "phone": {Normalize: []string{"digits"}}}
			zooTableSpec(&p.DataMap, "address").ReferencedBy = nil
			addr := zooTableSpec(&p.DataMap, "address")
			addr.Identifiers = map[string]string{"phone": "phone"}
			p.Subjects = []plan.Subject{
				tn.subject("lower", "email", "ann.smith@example.com", ""),
				tn.subject("stored", "email", "Ann.Smith@Example.com", ""),
				tn.subject("phone", "phone", "+45 (1111)", ""),
			}
			r := tn.mustSucceed(p)
			result(t, r, "Customer", plan.OutcomeNotFound, "lower")
			result(t, r, "Customer", plan.OutcomeWouldAnonymize, "stored")
			result(t, r, "address", plan.OutcomeWouldAnonymize, "phone")
		})
	}
}

// TestMariaDBCollationsDecideWhatMatches checks what the README says about MariaDB: under
// a case-insensitive collation (utf8mb4_general_ci, a common default) an identifier
// column matches without case even when the DataMap asks for exact matching, and it
// ignores accents too, so "jorg@" finds "jörg@"; under utf8mb4_bin only Lethe's
// normalisation makes case not matter.
func TestMariaDBCollationsDecideWhatMatches(t *testing.T) {
	tn := newTenant(t, "mariadb")
	tn.exec(`CREATE TABLE people (id BIGINT PRIMARY KEY, email_ci VARCHAR(100) COLLATE utf8mb4_general_ci NOT NULL,
		  email_bin VARCHAR(100) COLLATE utf8mb4_bin NOT NULL)`,
		`INSERT INTO people VALUES (1, 'Ann@Example.com', 'Ann@Example.com'), (2, 'jörg@example.com', 'jörg@example.com')`)
	find := func(column, normalize, value string) string {
		p := tn.plan(plan.KindPreview)
		p.DataMap = plan.DataMap{Tables: []plan.Table{{Name: "people", PrimaryKey: []string{"id"},
			Identifiers: map[string]string{"email": column},
			Columns:     []plan.Column{{Name: "id", Mask: plan.Mask{Strategy: plan.StrategyKeep}}}}},
			IdentityTypes: map[string]plan.IdentityType{"email": {Normalize: []string{normalize}}}}
		p.Subjects = []plan.Subject{tn.subject("s", "email", value, "")}
		return tn.mustSucceed(p).Results[0].Outcome
	}
	for _, c := range []struct{ column, normalize, value, want string }{
		{"email_ci", "exact", "ann@example.com", plan.OutcomeWouldAnonymize},
		{"email_ci", "exact", "jorg@example.com", plan.OutcomeWouldAnonymize},
		{"email_bin", "exact", "ann@example.com", plan.OutcomeNotFound},
		{"email_bin", "lowercase", "ann@example.com", plan.OutcomeWouldAnonymize},
		{"email_bin", "lowercase", "jorg@example.com", plan.OutcomeNotFound},
	} {
		if got := find(c.column, c.normalize, c.value); got != c.want {
			t.Errorf("%s compared %s with %q: %s, want %s", c.column, c.normalize, c.value, got, c.want)
		}
	}
}
