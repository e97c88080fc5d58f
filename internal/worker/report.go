package worker

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/lethe-operator/lethe/internal/plan"
)

// MaxTerminationMessage is the size Kubernetes keeps of a container's termination message.
const MaxTerminationMessage = 4096

// Summarise returns report encoded by plan.EncodeReport (JSON, compressed when long),
// shrunk to at most limit bytes: results are merged
// (dropping zero rows, then rules and subjects, then tables), then mismatches, errors and
// the remaining counts are cut, and Truncated is set. The summary keeps what a controller
// needs first: success, error codes and row totals per outcome.
func Summarise(report plan.Report, limit int) []byte {
	steps := []func(*plan.Report){
		func(r *plan.Report) { r.Results = dropEmpty(r.Results) },
		func(r *plan.Report) {
			r.Results = merge(r.Results, func(x plan.Result) plan.Result { x.Rule = ""; return x })
		},
		func(r *plan.Report) {
			r.Results = merge(r.Results, func(x plan.Result) plan.Result { x.Table = "*"; return x })
		},
		func(r *plan.Report) {
			r.Results = merge(r.Results, func(x plan.Result) plan.Result { x.Subject, x.Table = "", "*"; return x })
		},
		func(r *plan.Report) { r.Mismatches = cut(r.Mismatches, 10) },
		func(r *plan.Report) { r.Errors = cutErrors(r.Errors, 5, 200) },
		func(r *plan.Report) { r.Remaining = remainingTotal(r.Remaining) },
		func(r *plan.Report) { r.Mismatches = cut(r.Mismatches, 1) },
		func(r *plan.Report) { r.Errors = cutErrors(r.Errors, 1, 120) },
		func(r *plan.Report) {
			r.Results = merge(r.Results, func(plan.Result) plan.Result { return plan.Result{Table: "*", Outcome: "*"} })
		},
	}
	for _, step := range steps {
		if b, ok := encode(report, limit); ok {
			return b
		}
		step(&report)
		report.Truncated = true
	}
	b, ok := encode(report, limit)
	if !ok {
		// Only pathological input (a huge subject or table name) gets here.
		b = mustJSON(plan.Report{Kind: report.Kind, Succeeded: report.Succeeded, StartedAt: report.StartedAt,
			DurationMillis: report.DurationMillis, Truncated: true})
	}
	return b
}

// encode is the report as plan.EncodeReport writes it (JSON, or compressed when that is
// too long), and whether it fits in limit.
func encode(r plan.Report, limit int) ([]byte, bool) {
	b, ok, err := plan.EncodeReport(r, limit)
	if err != nil {
		// A Report has only plain fields: this cannot happen.
		panic(fmt.Sprintf("encode report: %v", err))
	}
	return b, ok
}

func mustJSON(r plan.Report) []byte {
	b, err := json.Marshal(r)
	if err != nil {
		// A Report has only plain fields: this cannot happen.
		panic(fmt.Sprintf("marshal report: %v", err))
	}
	return b
}

// dropEmpty drops results that changed no row; notFound and ambiguous stay (they have 0 or
// more rows but carry the subject's answer), and so does failed, and so does a subject's
// only result (a subject found with nothing left to change).
func dropEmpty(results []plan.Result) []plan.Result {
	perSubject := map[string]int{}
	for _, r := range results {
		perSubject[r.Subject]++
	}
	var out []plan.Result
	for _, r := range results {
		only := r.Subject != "" && perSubject[r.Subject] == 1
		if r.Rows > 0 || only || r.Outcome == plan.OutcomeNotFound || r.Outcome == plan.OutcomeAmbiguous || r.Outcome == plan.OutcomeFailed {
			out = append(out, r)
		}
	}
	return out
}

// merge sums the rows of results that have the same key; retainedUntil keeps the latest.
func merge(results []plan.Result, key func(plan.Result) plan.Result) []plan.Result {
	type id struct{ table, rule, subject, outcome string }
	var order []id
	merged := map[id]*plan.Result{}
	for _, r := range results {
		k := key(plan.Result{Table: r.Table, Rule: r.Rule, Subject: r.Subject, Outcome: r.Outcome})
		i := id{k.Table, k.Rule, k.Subject, k.Outcome}
		m, ok := merged[i]
		if !ok {
			m = &plan.Result{Table: k.Table, Rule: k.Rule, Subject: k.Subject, Outcome: k.Outcome}
			merged[i] = m
			order = append(order, i)
		}
		m.Rows += r.Rows
		m.Capped = m.Capped || r.Capped
		if r.RetainedUntil != nil && (m.RetainedUntil == nil || r.RetainedUntil.After(*m.RetainedUntil)) {
			m.RetainedUntil = r.RetainedUntil
		}
	}
	out := make([]plan.Result, len(order))
	for i, k := range order {
		out[i] = *merged[k]
	}
	return out
}

func cut(m []plan.Mismatch, n int) []plan.Mismatch {
	if len(m) <= n {
		return m
	}
	return append(m[:n:n], plan.Mismatch{Code: m[n].Code, Message: fmt.Sprintf("and %d more mismatches", len(m)-n)})
}

func cutErrors(errs []plan.Error, n, messageLength int) []plan.Error {
	var out []plan.Error
	for i, e := range errs {
		if i == n {
			out = append(out, plan.Error{Code: e.Code, Message: fmt.Sprintf("and %d more errors", len(errs)-n)})
			break
		}
		if len(e.Message) > messageLength {
			e.Message = e.Message[:messageLength] + "…"
		}
		out = append(out, e)
	}
	return out
}

// remainingTotal keeps only the subjects with values left, or their sum under "*".
func remainingTotal(rem map[string]int64) map[string]int64 {
	var ids []string
	var total int64
	for id, n := range rem {
		if n > 0 {
			ids = append(ids, id)
			total += n
		}
	}
	if len(ids) == 0 {
		return nil
	}
	sort.Strings(ids)
	if len(ids) > 10 {
		return map[string]int64{"*": total}
	}
	out := map[string]int64{}
	for _, id := range ids {
		out[id] = rem[id]
	}
	return out
}
