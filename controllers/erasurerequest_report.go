package controllers

import (
	"strings"
	"time"

	privacyv1alpha1 "github.com/lethe-operator/lethe/api/v1alpha1"
	"github.com/lethe-operator/lethe/internal/plan"
	"github.com/lethe-operator/lethe/internal/worker"
)

// reportSlack is the part of the termination message kept free for what a run may add to
// its report besides the subjects' results: an error or two, a failed table.
const reportSlack = 768

// reportRoom is how many of the requests (a prefix, in order) one Job of this kind may
// take so that the worker's report still names every subject's own results once it is
// summarised into the termination message (worker.MaxTerminationMessage). A larger batch
// gets a cut report without them, and its requests could only be retried, by a run that
// no longer finds the erased identifiers. The estimate is an upper bound: every table of
// the DataMap, each with every outcome the erasure can give it, and large row counts.
// At least one request always fits.
func reportRoom(dm *privacyv1alpha1.DataMap, kind plan.Kind, due []*privacyv1alpha1.ErasureRequest) int {
	if dm == nil || len(due) <= 1 {
		return len(due)
	}
	budget := worker.MaxTerminationMessage - reportSlack
	until := time.Date(9999, time.December, 31, 23, 59, 59, 0, time.UTC)
	report := plan.Report{Kind: kind, Succeeded: true, Truncated: true, StartedAt: until,
		DurationMillis: 1 << 40, Remaining: map[string]int64{}}
	// Row counts that differ from result to result, so the estimate compresses no better
	// than a real report would.
	rows := int64(1)
	for n, er := range due {
		for _, t := range dm.Spec.Tables {
			for _, outcome := range worstOutcomes(er, t, kind) {
				rows = (rows*6364136223846793005 + 1442695040888963407) & (1<<40 - 1)
				res := plan.Result{Table: string(t.Name), Subject: er.Name, Outcome: outcome, Rows: rows}
				if outcome == plan.OutcomeRetained {
					res.RetainedUntil = &until
				}
				report.Results = append(report.Results, res)
			}
		}
		report.Remaining[er.Name] = 1 << 40
		if _, fits, _ := plan.EncodeReport(report, budget); !fits {
			return max(n, 1)
		}
	}
	return len(due)
}

// worstOutcomes are the results a subject's erasure (or preview) can report for a table:
// its action (a delete anonymizes the rows still referenced), and retained rows under a
// legal hold.
func worstOutcomes(er *privacyv1alpha1.ErasureRequest, t privacyv1alpha1.Table, kind plan.Kind) []string {
	anonymized, deleted := plan.OutcomeAnonymized, plan.OutcomeDeleted
	if kind == plan.KindPreview {
		anonymized, deleted = plan.OutcomeWouldAnonymize, plan.OutcomeWouldDelete
	}
	action := string(er.Spec.Action)
	if action == "" {
		action = string(t.OnErasure)
	}
	out := []string{anonymized}
	if strings.EqualFold(action, plan.ActionDelete) {
		out = append(out, deleted)
	}
	if t.LegalHold != nil {
		out = append(out, plan.OutcomeRetained)
	}
	return out
}
