package controllers

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	privacyv1alpha1 "github.com/lethe-operator/lethe/api/v1alpha1"
	"github.com/lethe-operator/lethe/internal/plan"
)

func TestErasureDeadline(t *testing.T) {
	day := func(s string) time.Time {
		d, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	tests := []struct {
		created   string
		extension int
		want      string
	}{
		{"2026-03-10T10:00:00Z", 0, "2026-04-10T10:00:00Z"},
		{"2026-01-31T08:30:00Z", 0, "2026-02-28T08:30:00Z"}, // no 31 February: the month's last day
		{"2028-01-31T08:30:00Z", 0, "2028-02-29T08:30:00Z"}, // leap year
		{"2026-12-15T00:00:00Z", 0, "2027-01-15T00:00:00Z"},
		{"2026-10-31T12:00:00Z", 2, "2027-01-31T12:00:00Z"},
		{"2026-11-30T12:00:00Z", 2, "2027-02-28T12:00:00Z"},
	}
	for _, tt := range tests {
		if got := erasureDeadline(day(tt.created), tt.extension); !got.Equal(day(tt.want)) {
			t.Errorf("erasureDeadline(%s, +%d) = %s, want %s", tt.created, tt.extension, got.Format(time.RFC3339), tt.want)
		}
	}
}

func TestErasureBackoff(t *testing.T) {
	for attempts, want := range map[int32]time.Duration{1: time.Second, 2: 2 * time.Second, 4: 8 * time.Second, 30: 10 * time.Minute} {
		if got := erasureBackoff(time.Second, attempts); got != want {
			t.Errorf("erasureBackoff(1s, %d) = %s, want %s", attempts, got, want)
		}
	}
}

func TestFoldReport(t *testing.T) {
	until := time.Date(2031, 5, 1, 0, 0, 0, 0, time.UTC)
	report := &plan.Report{
		Kind: plan.KindErasure, Succeeded: true,
		Results: []plan.Result{
			{Table: "customers", Subject: "req-a", Outcome: plan.OutcomeAnonymized, Rows: 1},
			{Table: "invoices", Subject: "req-a", Outcome: plan.OutcomeRetained, Rows: 2, RetainedUntil: &until},
			{Table: "invoices", Subject: "req-a", Outcome: plan.OutcomeRetained, Rows: 1, RetainedUntil: &until},
			{Table: "customers", Subject: "req-b", Outcome: plan.OutcomeAmbiguous, Rows: 2},
			{Table: "customers", Subject: "req-c", Outcome: plan.OutcomeNotFound},
			{Table: "bookings", Subject: "req-d", Outcome: plan.OutcomeFailed},
			{Table: "customers", Subject: "req-g", Outcome: plan.OutcomeGuarded, Rows: 1, Reason: `guard "last-admin" keeps at least 1 row(s)`},
			{Table: "customers", Subject: "req-h", Outcome: plan.OutcomeReferenced, Rows: 1, ReferencedBy: []string{"invoices"}},
			{Table: "addresses", Subject: "req-h", Outcome: plan.OutcomeShared, Rows: 1, ReferencedBy: []string{"staff"}},
			{Table: "addresses", Subject: "req-h", Outcome: plan.OutcomeShared, Rows: 1, ReferencedBy: []string{"stores"}},
			{Table: "customers", Subject: "req-i", Outcome: plan.OutcomeAnonymized},
		},
		Remaining: map[string]int64{"req-a": 0, "req-e": 3, "req-h": 0, "req-i": 0},
	}
	failed := *report
	failed.Succeeded = false
	failed.Errors = []plan.Error{{Code: plan.ErrMissingTable, Table: "bookings", Message: "no such table"}}
	down := &plan.Report{Succeeded: false, Errors: []plan.Error{{Code: plan.ErrUnreachable, Message: "connection refused"}}}
	tests := []struct {
		name    string
		kind    plan.Kind
		subject string
		report  *plan.Report
		want    privacyv1alpha1.TargetState
		tables  int
	}{
		{"erased, invoices summed", plan.KindErasure, "req-a", report, privacyv1alpha1.TargetDone, 2},
		{"ambiguous", plan.KindErasure, "req-b", report, privacyv1alpha1.TargetAmbiguous, 1},
		{"not found", plan.KindErasure, "req-c", report, privacyv1alpha1.TargetNotFound, 0},
		{"missing table fails for good", plan.KindErasure, "req-d", &failed, privacyv1alpha1.TargetFailed, 0},
		{"unreachable retries", plan.KindErasure, "req-a", down, privacyv1alpha1.TargetRetrying, 0},
		{"no report retries", plan.KindErasure, "req-a", nil, privacyv1alpha1.TargetRetrying, 0},
		{"preview", plan.KindPreview, "req-a", report, privacyv1alpha1.TargetPreviewed, 2},
		{"guarded", plan.KindErasure, "req-g", report, privacyv1alpha1.TargetGuarded, 1},
		{"kept rows are part of the outcome", plan.KindErasure, "req-h", report, privacyv1alpha1.TargetDone, 2},
		{"nothing left to change", plan.KindErasure, "req-i", report, privacyv1alpha1.TargetDone, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := &privacyv1alpha1.ErasureTarget{Database: "db"}
			foldReport(target, tt.kind, tt.subject, tt.report, "BackoffLimitExceeded")
			if target.State != tt.want || len(target.Tables) != tt.tables {
				t.Fatalf("state %s with %d tables (%s), want %s with %d", target.State, len(target.Tables), target.Message, tt.want, tt.tables)
			}
		})
	}
	lost := &privacyv1alpha1.ErasureTarget{LostReport: true}
	foldReport(lost, plan.KindErasure, "req-c", report, "")
	if lost.State != privacyv1alpha1.TargetNotFound || !strings.Contains(lost.Message, "may have erased it") {
		t.Fatalf("not found after a lost report: %s %q", lost.State, lost.Message)
	}
	guarded := &privacyv1alpha1.ErasureTarget{}
	foldReport(guarded, plan.KindErasure, "req-g", report, "")
	if !strings.Contains(guarded.Message, `guard "last-admin"`) || guarded.Tables[0].Reason == "" {
		t.Fatalf("guarded target does not say which guard: %q %+v", guarded.Message, guarded.Tables)
	}
	kept := &privacyv1alpha1.ErasureTarget{}
	foldReport(kept, plan.KindErasure, "req-h", report, "")
	if shared := kept.Tables[0]; shared.Outcome != plan.OutcomeShared || shared.Rows != 2 || strings.Join(shared.ReferencedBy, ",") != "staff,stores" {
		t.Fatalf("shared addresses: %+v", shared)
	}
	target := &privacyv1alpha1.ErasureTarget{}
	foldReport(target, plan.KindErasure, "req-a", report, "")
	inv := target.Tables[1]
	if inv.Name != "invoices" || inv.Rows != 3 || !inv.RetainedUntil.Time.Equal(until) {
		t.Fatalf("invoices: %+v", inv)
	}
}

func TestReceipt(t *testing.T) {
	until := metav1.NewTime(time.Date(2031, 5, 1, 0, 0, 0, 0, time.UTC))
	targets := []privacyv1alpha1.ErasureTarget{{
		Database: "b", State: privacyv1alpha1.TargetDone,
		Tables: []privacyv1alpha1.TableOutcome{
			{Name: "invoices", Outcome: "retained", Rows: 3, RetainedUntil: &until, Basis: "bookkeeping-law", CoveredBy: "p/r"},
			{Name: "addresses", Outcome: "shared", Rows: 1, ReferencedBy: []string{"staff"}},
			{Name: "customers", Outcome: "anonymized", Rows: 1},
		},
	}, {Database: "a", State: privacyv1alpha1.TargetNotFound}}
	at := time.Date(2026, 5, 2, 10, 0, 0, 123, time.UTC)
	r1 := buildReceipt("uid-1", "hmac-sha256:ab", targets, at)
	// Reordered input gives the same receipt.
	r2 := buildReceipt("uid-1", "hmac-sha256:ab", []privacyv1alpha1.ErasureTarget{targets[1], targets[0]}, at)
	if r1.Digest != r2.Digest || r1.Document != r2.Document {
		t.Fatalf("receipt depends on order:\n%s\n%s", r1.Document, r2.Document)
	}
	sum := sha256.Sum256([]byte(r1.Document))
	if r1.Digest != "sha256:"+hex.EncodeToString(sum[:]) {
		t.Fatal("digest is not the SHA-256 of the document")
	}
	want := `{"uid":"uid-1","fingerprint":"hmac-sha256:ab","completedAt":"2026-05-02T10:00:00Z","databases":[{"database":"a","state":"NotFound","tables":[]},{"database":"b","state":"Done","tables":[{"name":"addresses","outcome":"shared","rows":1,"referencedBy":["staff"]},{"name":"customers","outcome":"anonymized","rows":1},{"name":"invoices","outcome":"retained","rows":3,"retainedUntil":"2031-05-01T00:00:00Z","basis":"bookkeeping-law","coveredBy":"p/r"}]}]}`
	if r1.Document != want {
		t.Fatalf("document\n%s\nwant\n%s", r1.Document, want)
	}
	if other := buildReceipt("uid-2", "hmac-sha256:ab", targets, at); other.Digest == r1.Digest {
		t.Fatal("the UID is not covered by the digest")
	}
}
