package worker_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lethe-operator/lethe/internal/plan"
	"github.com/lethe-operator/lethe/internal/worker"
)

// FuzzPlan decodes whatever a plan ConfigMap could hold and runs it, as a preview or a
// verification, against a real PostgreSQL database with the booking schema. The plan's
// rules, conditions, values, DataMap, masks, subjects and options are the fuzzer's; only
// where it connects and which files it reads are fixed. Whatever the plan, the worker
// refuses it with a code or runs it: never a panic, never an Internal error (a statement
// Lethe built that the database could not run), never a change to the database.
func FuzzPlan(f *testing.F) {
	seed := func(p plan.Plan) {
		b, _ := json.Marshal(p)
		f.Add(b, byte(0))
	}
	p := plan.Plan{Kind: plan.KindPreview, DataMap: bookingMap(), Now: now, Rules: retentionRules()}
	seed(p)
	for _, r := range refusals() {
		p.Rules = []plan.Rule{r.rule}
		seed(p)
	}
	p.Rules = []plan.Rule{{Name: "decimal", Table: "invoices", Action: plan.ActionDelete,
		Where: []plan.Condition{{Column: "amount", Op: plan.OpGt, Value: "1e999999"}}}}
	seed(p)
	p.Rules, p.Subjects = nil, []plan.Subject{{ID: "alice@example.com", Type: "email"}, {ID: "2", Type: "customerId", Action: plan.ActionDelete}}
	seed(p)
	f.Add([]byte(`{"kind":"verify","dataMap":{"tables":[{"name":"customers","primaryKey":["id"],"columns":[{"name":"email","mask":{"strategy":"generalize","to":"bucket","width":-1}}]}]}}`), byte(1))
	f.Add([]byte(`{"rules":[{"name":"r","table":"customers","action":"delete","where":[{"column":"created_at","op":"lt","value":"\u0000"}]}]}`), byte(0))

	shared := newTenant(f, engines[0])
	setupBooking(shared)
	before := shared.checksum(bookingTables...)
	f.Fuzz(func(t *testing.T, raw []byte, kind byte) {
		tn := *shared
		tn.t = t // helpers report to the fuzz target's test, not to f
		var p plan.Plan
		if err := json.Unmarshal(raw, &p); err != nil {
			return
		}
		contained(t, &tn, &p, kind)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		var log strings.Builder
		r := worker.Run(ctx, p, &log)
		for _, e := range r.Errors {
			if e.Code == plan.ErrInternal {
				b, _ := json.Marshal(p)
				t.Fatalf("Internal error %q for the plan\n%s\nlog:\n%s", e.Message, b, log.String())
			}
		}
		if after := tn.checksum(bookingTables...); after != before {
			b, _ := json.Marshal(p)
			t.Fatalf("a %s plan changed the database:\n%s", p.Kind, b)
		}
	})
}

// contained points a fuzzed plan at the test database and at files of the test's own, and
// makes it one that changes nothing.
func contained(t *testing.T, tn *tenant, p *plan.Plan, kind byte) {
	p.Kind = []plan.Kind{plan.KindPreview, plan.KindVerify}[int(kind)%2]
	p.Database = tn.Database
	dir := t.TempDir()
	key := filepath.Join(dir, "hash.key")
	_ = os.WriteFile(key, []byte("fuzz-hmac-key"), 0o600)
	p.Options.HashKeyFile = key
	p.Options.ExportDir, p.Options.ExportSecret = "", nil
	for i := range p.Subjects {
		// The subject's identifier is its ID: the fuzzer chooses both.
		p.Subjects[i].ValueFile = filepath.Join(dir, "subject-"+strings.Repeat("x", i))
		_ = os.WriteFile(p.Subjects[i].ValueFile, []byte(p.Subjects[i].ID), 0o600)
	}
	if p.Now.IsZero() {
		p.Now = now
	}
}
