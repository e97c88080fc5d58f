package worker_test

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/lethe-operator/lethe/internal/plan"
	"github.com/lethe-operator/lethe/internal/worker"
)

// erasureSubjects are four coalesced requests: alice by email (table defaults), bob by
// customer id with delete, an ambiguous phone number (erin and frank share it) and an
// unknown address.
func erasureSubjects(tn *tenant) []plan.Subject {
	return []plan.Subject{
		tn.subject("req-alice", "email", "alice@example.com", ""),
		tn.subject("req-bob", "customerId", "2", plan.ActionDelete),
		tn.subject("req-shared-phone", "phone", "+1 5555", ""),
		tn.subject("req-nobody", "email", "nobody@example.com", ""),
	}
}

var erasureExpectations = []expectation{
	// alice: guests of her bookings 10 and 11 (composite link two levels down), the one
	// booking with an IP, the invoice past its hold, both tickets deleted, her own row.
	{"booking_guests", "req-alice", plan.OutcomeAnonymized, 3},
	{"bookings", "req-alice", plan.OutcomeAnonymized, 1},
	{"invoices", "req-alice", plan.OutcomeAnonymized, 1},
	{"invoices", "req-alice", plan.OutcomeRetained, 1},
	{"support_tickets", "req-alice", plan.OutcomeDeleted, 2},
	{"customers", "req-alice", plan.OutcomeAnonymized, 1},
	// bob, deleted: everything but the held invoice, and his own row, which that invoice
	// still references: kept (anonymized) and reported referenced.
	{"booking_guests", "req-bob", plan.OutcomeDeleted, 1},
	{"bookings", "req-bob", plan.OutcomeDeleted, 1},
	{"invoices", "req-bob", plan.OutcomeDeleted, 1},
	{"invoices", "req-bob", plan.OutcomeRetained, 1},
	{"support_tickets", "req-bob", plan.OutcomeDeleted, 1},
	{"customers", "req-bob", plan.OutcomeReferenced, 1},
	{"customers", "req-shared-phone", plan.OutcomeAmbiguous, 2},
	{"customers", "req-nobody", plan.OutcomeNotFound, 0},
}

func TestErasureFollowsLinksKeepsHoldsAndVerifiesNothingIsLeft(t *testing.T) {
	for _, e := range engines {
		t.Run(e, func(t *testing.T) {
			t.Parallel()
			tn := newTenant(t, e)
			setupBooking(tn)
			p := tn.plan(plan.KindErasure)
			p.Subjects = erasureSubjects(tn)
			erinAndFrank := tn.rows("SELECT * FROM customers WHERE id IN (5, 6) ORDER BY id")
			r := tn.mustSucceed(p)
			for _, x := range erasureExpectations {
				if got := result(t, r, x.table, x.outcome, x.rule); got.Rows != x.rows {
					t.Errorf("%s %s %s = %d rows, want %d", x.rule, x.table, x.outcome, got.Rows, x.rows)
				}
			}
			for _, sub := range []string{"req-alice", "req-bob"} {
				if n, ok := r.Remaining[sub]; !ok || n != 0 {
					t.Errorf("remaining[%s] = %d (present %v), want 0", sub, n, ok)
				}
			}
			noEmptyResults(t, r)
			if by := result(t, r, "customers", plan.OutcomeReferenced, "req-bob").ReferencedBy; !slices.Equal(by, []string{"invoices"}) {
				t.Errorf("bob's row is referenced by %v, want [invoices]", by)
			}
			held := result(t, r, "invoices", plan.OutcomeRetained, "req-alice")
			if held.Basis != "bookkeeping-law" {
				t.Errorf("alice's invoice retained on basis %q", held.Basis)
			}
			if want := time.Date(2031, time.May, 1, 0, 0, 0, 0, time.UTC); held.RetainedUntil == nil || !held.RetainedUntil.Equal(want) {
				t.Errorf("alice's invoice retained until %v, want %v", held.RetainedUntil, want)
			}
			checkErasureState(t, tn)
			if got := tn.rows("SELECT * FROM customers WHERE id IN (5, 6) ORDER BY id"); !equalRows(got, erinAndFrank) {
				t.Errorf("the ambiguous subject's rows changed: %v", got)
			}

			before := tn.checksum(bookingTables...)
			again := tn.mustSucceed(p)
			if n := changedRows(again); n != 0 {
				t.Errorf("second run changed %d rows, want 0", n)
			}
			if tn.checksum(bookingTables...) != before {
				t.Error("second run changed data")
			}
		})
	}
}

func checkErasureState(t *testing.T, tn *tenant) {
	t.Helper()
	alice := tn.rows("SELECT email, full_name, phone, country FROM customers WHERE id = 1")[0]
	if alice[0] == "alice@example.com" || alice[1] != "REDACTED" || alice[2] == "+44 1111" || alice[3] != "GB" {
		t.Errorf("alice = %q", alice)
	}
	guests := tn.rows("SELECT booking_id, seq, guest_name, guest_email FROM booking_guests ORDER BY booking_id, seq")
	want := [][]string{
		{"10", "1", "guest", "NULL"}, {"10", "2", "guest", "NULL"}, {"11", "1", "guest", "NULL"},
		{"40", "1", "Taylor", "NULL"},
	}
	if !equalRows(guests, want) {
		t.Errorf("booking guests = %v, want %v", guests, want)
	}
	invoices := tn.rows("SELECT id, billing_name FROM invoices ORDER BY id")
	if !equalRows(invoices, [][]string{{"100", "Alice Liddell"}, {"101", "REDACTED"}, {"200", "Bob Builder"}}) {
		t.Errorf("invoices = %v: held ones untouched, bob's other one deleted", invoices)
	}
	if got := tn.rows("SELECT id FROM support_tickets ORDER BY id"); !equalRows(got, [][]string{{"4000"}}) {
		t.Errorf("support tickets = %v, want [4000]", got)
	}
	if got := tn.rows("SELECT id FROM bookings ORDER BY id"); !equalRows(got, [][]string{{"10"}, {"11"}, {"40"}}) {
		t.Errorf("bookings = %v", got)
	}
	if ip := tn.value("SELECT ip_address FROM bookings WHERE id = 10"); ip == "203.0.113.7" {
		t.Error("alice's booking keeps its IP address")
	}
}

func TestPreviewOfErasureCountsAndChangesNothing(t *testing.T) {
	for _, e := range engines {
		t.Run(e, func(t *testing.T) {
			t.Parallel()
			tn := newTenant(t, e)
			setupBooking(tn)
			before := tn.checksum(bookingTables...)
			p := tn.plan(plan.KindPreview)
			p.Subjects = erasureSubjects(tn)
			r := tn.mustSucceed(p)
			would := map[string]string{plan.OutcomeAnonymized: plan.OutcomeWouldAnonymize, plan.OutcomeDeleted: plan.OutcomeWouldDelete}
			for _, x := range erasureExpectations {
				outcome := x.outcome
				if w, ok := would[outcome]; ok {
					outcome = w
				}
				if got := result(t, r, x.table, outcome, x.rule); got.Rows != x.rows {
					t.Errorf("%s %s %s = %d rows, want %d", x.rule, x.table, outcome, got.Rows, x.rows)
				}
			}
			if tn.checksum(bookingTables...) != before {
				t.Fatal("preview changed data")
			}
		})
	}
}

func TestErasureBindsTheIdentifierAsAValue(t *testing.T) {
	for _, e := range engines {
		t.Run(e, func(t *testing.T) {
			t.Parallel()
			tn := newTenant(t, e)
			setupBooking(tn)
			before := tn.checksum(bookingTables...)
			p := tn.plan(plan.KindErasure)
			p.Subjects = []plan.Subject{
				tn.subject("quote", "email", "x' OR '1'='1", ""),
				tn.subject("comment", "email", "alice@example.com' --", ""),
				tn.subject("not-a-number", "customerId", "1 OR 1=1", ""),
			}
			r := tn.mustSucceed(p)
			for _, s := range p.Subjects {
				result(t, r, "customers", plan.OutcomeNotFound, s.ID)
			}
			if tn.checksum(bookingTables...) != before {
				t.Fatal("data changed")
			}
		})
	}
}

func TestExportWritesTheSubjectsRowsAsJSONAndCSV(t *testing.T) {
	for _, e := range engines {
		t.Run(e, func(t *testing.T) {
			t.Parallel()
			tn := newTenant(t, e)
			setupBooking(tn)
			before := tn.checksum(bookingTables...)
			p := tn.plan(plan.KindExport)
			p.Options.ExportDir = filepath.Join(t.TempDir(), "export")
			p.Subjects = []plan.Subject{tn.subject("req-alice", "email", "alice@example.com", "")}
			r := tn.mustSucceed(p)
			wantRows := map[string]int{"customers": 1, "bookings": 2, "booking_guests": 3, "invoices": 2, "support_tickets": 2}
			for table, n := range wantRows {
				if got := result(t, r, table, plan.OutcomeExported, "req-alice").Rows; got != int64(n) {
					t.Errorf("report: %s exported %d rows, want %d", table, got, n)
				}
			}
			var doc struct {
				Database   string                                  `json:"database"`
				ExportedAt time.Time                               `json:"exportedAt"`
				Tables     map[string][]map[string]json.RawMessage `json:"tables"`
			}
			b, err := os.ReadFile(filepath.Join(p.Options.ExportDir, worker.ExportFile))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &doc); err != nil {
				t.Fatalf("export.json: %v\n%s", err, b)
			}
			if doc.Database != tn.Name || doc.ExportedAt.IsZero() {
				t.Errorf("database %q, exportedAt %v", doc.Database, doc.ExportedAt)
			}
			for table, n := range wantRows {
				if len(doc.Tables[table]) != n {
					t.Errorf("export.json: %s has %d rows, want %d", table, len(doc.Tables[table]), n)
				}
				records := readCSV(t, filepath.Join(p.Options.ExportDir, table+".csv"))
				if len(records) != n+1 {
					t.Errorf("%s.csv has %d records, want a header and %d rows", table, len(records), n)
				}
			}
			var email struct {
				Value    string `json:"value"`
				Category string `json:"category"`
			}
			if err := json.Unmarshal(doc.Tables["customers"][0]["email"], &email); err != nil || email.Value != "alice@example.com" || email.Category != "contact" {
				t.Errorf("customers[0].email = %+v (%v)", email, err)
			}
			if tn.checksum(bookingTables...) != before {
				t.Fatal("export changed data")
			}
		})
	}
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	records, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return records
}
