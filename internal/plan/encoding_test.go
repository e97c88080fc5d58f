package plan

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

func erasureReport(subjects int) Report {
	until := time.Date(2033, 5, 1, 0, 0, 0, 0, time.UTC)
	r := Report{Kind: KindErasure, Succeeded: true, StartedAt: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC),
		Remaining: map[string]int64{}}
	for i := range subjects {
		s := fmt.Sprintf("request-%04d", i)
		for _, table := range []string{"customers", "accounts", "bookings", "support_tickets"} {
			r.Results = append(r.Results, Result{Table: table, Subject: s, Outcome: OutcomeAnonymized, Rows: int64(i % 7)})
		}
		r.Results = append(r.Results, Result{Table: "invoices", Subject: s, Outcome: OutcomeRetained, Rows: 3, RetainedUntil: &until})
		r.Remaining[s] = 0
	}
	return r
}

func TestSmallReportsStayPlainJSON(t *testing.T) {
	r := erasureReport(2)
	b, ok, err := EncodeReport(r, 4096)
	if err != nil || !ok || strings.Contains(string(b), EncodingGzip) {
		t.Fatalf("EncodeReport = %s, %v, %v", b, ok, err)
	}
	got, err := DecodeReport(b)
	if err != nil || !reflect.DeepEqual(*got, r) {
		t.Fatalf("round trip: %v\n%+v", err, got)
	}
}

func TestLargeReportsAreCompressedAndReadBack(t *testing.T) {
	r := erasureReport(50)
	b, ok, err := EncodeReport(r, 4096)
	if err != nil || !ok || len(b) > 4096 {
		t.Fatalf("50 subjects: %d bytes, ok %v, %v", len(b), ok, err)
	}
	got, err := DecodeReport(b)
	if err != nil || !reflect.DeepEqual(*got, r) {
		t.Fatalf("round trip: %v", err)
	}
}

func TestReportsTooLargeEvenCompressedAreRefused(t *testing.T) {
	if _, ok, err := EncodeReport(erasureReport(2000), 4096); ok || err != nil {
		t.Fatalf("2000 subjects fit in 4 KiB? ok %v, err %v", ok, err)
	}
}

func TestDecodeRefusesUnknownEncodings(t *testing.T) {
	for _, msg := range []string{`{"encoding":"zstd","report":""}`, `{"encoding":"gzip","report":"!!"}`, `not json`} {
		if _, err := DecodeReport([]byte(msg)); err == nil {
			t.Errorf("DecodeReport(%s) accepted", msg)
		}
	}
}
