package controllers

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	privacyv1alpha1 "github.com/lethe-operator/lethe/api/v1alpha1"
	"github.com/lethe-operator/lethe/internal/plan"
)

// erasureDeadline is creation plus one calendar month plus the extension's months. A
// month that lacks the day ends the period on its last day (Regulation 1182/71 Art.
// 3(2)(c)): 31 January gives 28 or 29 February, not 3 March as time.AddDate would.
func erasureDeadline(created time.Time, extensionMonths int) time.Time {
	return addCalendarMonths(created, 1+extensionMonths)
}

func addCalendarMonths(t time.Time, months int) time.Time {
	y, m, d := t.Date()
	firstOfTarget := time.Date(y, m+time.Month(months), 1, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), t.Location())
	lastDay := firstOfTarget.AddDate(0, 1, -1).Day()
	return firstOfTarget.AddDate(0, 0, min(d, lastDay)-1)
}

// retryableCodes are the worker error codes a later run may not hit again.
var retryableCodes = map[string]bool{
	plan.ErrUnreachable: true, plan.ErrTimeout: true, plan.ErrInternal: true,
}

// erasureBackoff is how long a failed run waits before the next attempt: base doubled per
// failed attempt, at most maxBackoff.
func erasureBackoff(base time.Duration, attempts int32) time.Duration {
	const maxBackoff = 10 * time.Minute
	d := base
	for i := int32(1); i < attempts && d < maxBackoff; i++ {
		d *= 2
	}
	return min(d, maxBackoff)
}

// foldReport records one subject's part of a finished Job's report in its target: the
// state, the message and the per-table outcomes. report is nil when the Job left none
// (jobMsg says why).
func foldReport(t *privacyv1alpha1.ErasureTarget, kind plan.Kind, subject string, report *plan.Report, jobMsg string) {
	if report == nil {
		t.State, t.Message = privacyv1alpha1.TargetRetrying, "the worker Job left no report: "+jobMsg
		return
	}
	var mine []plan.Result
	outcomes := map[string]bool{}
	for _, r := range report.Results {
		if r.Subject == subject {
			mine = append(mine, r)
			outcomes[r.Outcome] = true
		}
	}
	t.Remaining = report.Remaining[subject]
	switch {
	case outcomes[plan.OutcomeAmbiguous]:
		t.State, t.Tables = privacyv1alpha1.TargetAmbiguous, tableOutcomes(mine)
		t.Message = "the identifier matches more than one subject; nothing was changed"
	case outcomes[plan.OutcomeGuarded]:
		t.State, t.Tables = privacyv1alpha1.TargetGuarded, tableOutcomes(mine)
		t.Message = "erasing the subject would remove or anonymize rows a guard keeps (" + guardReasons(mine) +
			"); nothing was changed: deal with the guarded rows (appoint another administrator), it is tried again every hour"
	case outcomes[plan.OutcomeNotFound]:
		t.State, t.Tables = privacyv1alpha1.TargetNotFound, nil
		t.Message = "the identifier matches no subject in this database"
		if t.LostReport && kind == plan.KindErasure {
			t.Message = "the identifier matches no subject in this database now: an earlier erasure Job of this " +
				"request disappeared before its report was read and may have erased it"
		}
	case outcomes[plan.OutcomeFailed] || len(mine) == 0:
		code, msg := reportError(report)
		t.Message = fmt.Sprintf("%s run failed: %s", kind, msg)
		t.State = privacyv1alpha1.TargetFailed
		if retryableCodes[code] || code == "" {
			t.State = privacyv1alpha1.TargetRetrying
		}
	case kind == plan.KindPreview:
		t.State, t.Tables = privacyv1alpha1.TargetPreviewed, tableOutcomes(mine)
		t.Message = "preview counted the rows the erasure would change"
	case t.Remaining > 0:
		t.State, t.Tables = privacyv1alpha1.TargetFailed, tableOutcomes(mine)
		t.Message = fmt.Sprintf("the post-erasure check still found %d identifying value(s): the DataMap may miss a column", t.Remaining)
	default:
		t.State, t.Tables = privacyv1alpha1.TargetDone, tableOutcomes(mine)
		t.Message = "erased; the post-erasure check found no identifying value left"
	}
}

// guardReasons joins the reasons of the guarded results.
func guardReasons(results []plan.Result) string {
	var reasons []string
	for _, r := range results {
		if r.Outcome == plan.OutcomeGuarded && r.Reason != "" && !slices.Contains(reasons, r.Reason) {
			reasons = append(reasons, r.Reason)
		}
	}
	return strings.Join(reasons, "; ")
}

// reportError is the report's first error code and message ("" when there is none).
func reportError(report *plan.Report) (string, string) {
	if len(report.Errors) == 0 {
		return "", "the worker stopped before reaching this subject"
	}
	e := report.Errors[0]
	if e.Table != "" {
		return e.Code, fmt.Sprintf("%s in table %s: %s", e.Code, e.Table, e.Message)
	}
	return e.Code, fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// tableOutcomes sums the results per table and outcome, in a stable order.
func tableOutcomes(results []plan.Result) []privacyv1alpha1.TableOutcome {
	type key struct{ table, outcome string }
	sums := map[key]*privacyv1alpha1.TableOutcome{}
	var order []key
	for _, r := range results {
		k := key{r.Table, r.Outcome}
		o, ok := sums[k]
		if !ok {
			o = &privacyv1alpha1.TableOutcome{Name: r.Table, Outcome: r.Outcome}
			sums[k] = o
			order = append(order, k)
		}
		o.Rows += r.Rows
		if r.RetainedUntil != nil && (o.RetainedUntil == nil || r.RetainedUntil.After(o.RetainedUntil.Time)) {
			o.RetainedUntil = &metav1.Time{Time: r.RetainedUntil.UTC()}
		}
		o.Basis = joinOnce(o.Basis, r.Basis)
		o.Reason = joinOnce(o.Reason, r.Reason)
		for _, by := range r.ReferencedBy {
			if !slices.Contains(o.ReferencedBy, by) {
				o.ReferencedBy = append(o.ReferencedBy, by)
			}
		}
		slices.Sort(o.ReferencedBy)
	}
	sort.SliceStable(order, func(i, j int) bool {
		if order[i].table != order[j].table {
			return order[i].table < order[j].table
		}
		return order[i].outcome < order[j].outcome
	})
	out := make([]privacyv1alpha1.TableOutcome, 0, len(order))
	for _, k := range order {
		out = append(out, *sums[k])
	}
	return out
}

// joinOnce adds part to a "; "-separated list unless it is empty or already there.
func joinOnce(list, part string) string {
	switch {
	case part == "" || slices.Contains(strings.Split(list, "; "), part):
		return list
	case list == "":
		return part
	}
	return list + "; " + part
}

// receiptDocument is what a receipt's digest covers. Field order is fixed by the struct,
// targets and tables are sorted and times are UTC RFC 3339, so that encoding/json gives
// the same bytes for the same record: an auditor recomputes the digest with
// `sha256sum` over status.receipt.document, and the document against the status.
type receiptDocument struct {
	UID         string          `json:"uid"`
	Fingerprint string          `json:"fingerprint"`
	CompletedAt string          `json:"completedAt"`
	Databases   []receiptTarget `json:"databases"`
}

type receiptTarget struct {
	Database string         `json:"database"`
	State    string         `json:"state"`
	Tables   []receiptTable `json:"tables"`
}

type receiptTable struct {
	Name          string   `json:"name"`
	Outcome       string   `json:"outcome"`
	Rows          int64    `json:"rows"`
	RetainedUntil string   `json:"retainedUntil,omitempty"`
	Basis         string   `json:"basis,omitempty"`
	ReferencedBy  []string `json:"referencedBy,omitempty"`
	CoveredBy     string   `json:"coveredBy,omitempty"`
}

// buildReceipt returns the receipt of a completed request.
func buildReceipt(uid, fingerprint string, targets []privacyv1alpha1.ErasureTarget, completed time.Time) *privacyv1alpha1.Receipt {
	completed = completed.UTC().Truncate(time.Second)
	doc := receiptDocument{UID: uid, Fingerprint: fingerprint, CompletedAt: completed.Format(time.RFC3339), Databases: []receiptTarget{}}
	for _, t := range targets {
		rt := receiptTarget{Database: t.Database, State: string(t.State), Tables: []receiptTable{}}
		for _, tab := range t.Tables {
			rtab := receiptTable{Name: tab.Name, Outcome: tab.Outcome, Rows: tab.Rows, Basis: tab.Basis,
				ReferencedBy: tab.ReferencedBy, CoveredBy: tab.CoveredBy}
			if tab.RetainedUntil != nil {
				rtab.RetainedUntil = tab.RetainedUntil.UTC().Format(time.RFC3339)
			}
			rt.Tables = append(rt.Tables, rtab)
		}
		sort.Slice(rt.Tables, func(i, j int) bool {
			a, b := rt.Tables[i], rt.Tables[j]
			return a.Name < b.Name || (a.Name == b.Name && a.Outcome < b.Outcome)
		})
		doc.Databases = append(doc.Databases, rt)
	}
	sort.Slice(doc.Databases, func(i, j int) bool { return doc.Databases[i].Database < doc.Databases[j].Database })
	b, _ := json.Marshal(doc)
	sum := sha256.Sum256(b)
	return &privacyv1alpha1.Receipt{
		Digest: "sha256:" + hex.EncodeToString(sum[:]), CompletedAt: metav1.Time{Time: completed}, Document: string(b),
	}
}
