package controllers

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	privacyv1alpha1 "github.com/lethe-operator/lethe/api/v1alpha1"
	"github.com/lethe-operator/lethe/internal/plan"
	"github.com/lethe-operator/lethe/internal/worker"
)

// TestReportRoomKeepsSubjects: for the booking sample, a batch of reportRoom requests
// whose report has every outcome the erasure can give still names each subject after
// worker.Summarise, and the fold gives each its own tables.
func TestReportRoomKeepsSubjects(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "config", "samples", "privacy_v1alpha1_datamap.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dm := &privacyv1alpha1.DataMap{}
	if err := yaml.Unmarshal(raw, dm); err != nil {
		t.Fatal(err)
	}
	var due []*privacyv1alpha1.ErasureRequest
	for i := range 300 {
		due = append(due, &privacyv1alpha1.ErasureRequest{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("request-%04d", i)}})
	}
	n := reportRoom(dm, plan.KindErasure, due)
	if n < 2 || n >= len(due) {
		t.Fatalf("reportRoom = %d of %d", n, len(due))
	}
	t.Logf("%d booking subjects fit a report", n)
	// A realistic report of n subjects: every outcome, many-digit row counts.
	until := time.Date(2033, time.May, 1, 0, 0, 0, 0, time.UTC)
	report := plan.Report{Kind: plan.KindErasure, Succeeded: true, StartedAt: time.Now().UTC(), DurationMillis: 123456, Remaining: map[string]int64{}}
	for _, er := range due[:n] {
		for _, tab := range dm.Spec.Tables {
			for _, outcome := range worstOutcomes(er, tab, plan.KindErasure) {
				res := plan.Result{Table: string(tab.Name), Subject: er.Name, Outcome: outcome, Rows: int64(len(report.Results)*7919) % 1000003}
				if outcome == plan.OutcomeRetained {
					res.RetainedUntil = &until
				}
				report.Results = append(report.Results, res)
			}
		}
		report.Remaining[er.Name] = 0
	}
	report.Errors = []plan.Error{{Code: plan.ErrTimeout, Table: "support_tickets", Message: strings.Repeat("x", 200)}}
	summary, err := plan.DecodeReport(worker.Summarise(report, worker.MaxTerminationMessage))
	if err != nil {
		t.Fatal(err)
	}
	for _, er := range due[:n] {
		target := &privacyv1alpha1.ErasureTarget{}
		foldReport(target, plan.KindErasure, er.Name, summary, "")
		names := map[string]bool{}
		for _, tab := range target.Tables {
			names[tab.Name] = true
		}
		if target.State != privacyv1alpha1.TargetDone || len(names) != len(dm.Spec.Tables) || names["*"] {
			t.Fatalf("%s: after the summary: %+v", er.Name, target)
		}
	}
	if got := reportRoom(dm, plan.KindErasure, due[:1]); got != 1 {
		t.Fatalf("one request: reportRoom = %d", got)
	}
}
