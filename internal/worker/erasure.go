package worker

import (
	"context"
	"database/sql"
	"os"
	"strings"

	"github.com/lethe-operator/lethe/internal/engine"
	"github.com/lethe-operator/lethe/internal/identifier"
	"github.com/lethe-operator/lethe/internal/mask"
	"github.com/lethe-operator/lethe/internal/plan"
)

// subjectRow is a data subject's row in a subject table, by primary key. The erasure
// follows keys, not the identifier, so that the subject's linked rows are still found
// after the subject's own row has been anonymized.
type subjectRow struct {
	t   *table
	key []any
}

// subjectWork is one subject of the plan found in the database, with what erasing it
// would change, worked out before anything changes.
type subjectWork struct {
	sub      plan.Subject
	value    string
	erasures []*erasure
}

// eraseSubjects erases (or, for a preview, counts) every subject of the plan. Every
// subject is looked up and checked against the guards first, so that a row shared by two
// subjects of the plan is known to be erased with both of them, and a subject a guard
// keeps changes nothing at all.
func (r *runner) eraseSubjects(ctx context.Context, preview bool) {
	var work []subjectWork
	for _, sub := range r.plan.Subjects {
		w, ok, stop := r.prepareSubject(ctx, sub)
		if stop {
			return
		}
		if ok {
			work = append(work, w)
			r.job = append(r.job, w.erasures...)
		}
	}
	for _, w := range work {
		if stop := r.eraseSubject(ctx, w, preview); stop {
			return
		}
	}
}

// prepareSubject finds the subject, captures the keys of the rows its erasure reaches
// through referencedBy links, and checks the guards. ok is false when there is nothing to
// erase (not found, ambiguous, guarded, failed: the report says which).
func (r *runner) prepareSubject(ctx context.Context, sub plan.Subject) (w subjectWork, ok, stop bool) {
	value, err := readSubjectValue(sub)
	if err != nil {
		r.fail(err)
		return w, false, false
	}
	rows, results, err := r.findSubject(ctx, sub, value)
	r.report.Results = append(r.report.Results, results...)
	if err != nil {
		return w, false, r.failIn(err, "", "finding subject "+sub.ID)
	}
	if len(rows) == 0 {
		return w, false, false
	}
	w = subjectWork{sub: sub, value: value}
	for _, row := range rows {
		e, err := r.prepareErasure(ctx, sub, row)
		if err != nil {
			return w, false, r.failIn(err, row.t.name(), "preparing the erasure of subject "+sub.ID)
		}
		w.erasures = append(w.erasures, e)
	}
	guarded, err := r.checkGuards(ctx, w.erasures)
	if err != nil {
		return w, false, r.failIn(err, "", "checking the guards for subject "+sub.ID)
	}
	if len(guarded) > 0 {
		r.report.Results = append(r.report.Results, guarded...)
		r.logf("subject %s: a guard keeps some of its rows; nothing changed for it", sub.ID)
		return w, false, false
	}
	return w, true, false
}

func (r *runner) eraseSubject(ctx context.Context, w subjectWork, preview bool) (stop bool) {
	before := len(r.report.Results)
	for _, e := range w.erasures {
		if stop, failed := r.eraseRow(ctx, e, preview); failed {
			return stop
		}
	}
	if len(r.report.Results) == before {
		// Nothing left to change (a second run): say the subject was found all the same.
		e := w.erasures[0]
		outcome := plan.OutcomeAnonymized
		if erasureAction(w.sub, e.row.t) == plan.ActionDelete {
			outcome = plan.OutcomeDeleted
		}
		r.report.Results = append(r.report.Results, plan.Result{Table: e.row.t.name(), Subject: w.sub.ID, Outcome: previewOutcome(outcome, preview)})
	}
	if preview {
		return false
	}
	left, err := r.remaining(ctx, w.erasures, w.sub.Type, w.value)
	if err != nil {
		return r.failIn(err, "", "checking what is left of subject "+w.sub.ID)
	}
	if r.report.Remaining == nil {
		r.report.Remaining = map[string]int64{}
	}
	r.report.Remaining[w.sub.ID] = left
	r.logf("subject %s: %d identifying values left", w.sub.ID, left)
	return false
}

// eraseRow erases the rows linked to one subject row, table by table, deepest first;
// rows of referencedBy tables an erasure deletes go last, once nothing of the subject's
// points at them any more.
func (r *runner) eraseRow(ctx context.Context, e *erasure, preview bool) (stop, failed bool) {
	sums := map[*table]*tally{}
	tables := r.schema.tree(e.row.t)
	var released []*table
	for _, t := range tables {
		sums[t] = &tally{}
		if err := r.eraseTable(ctx, e, t, preview, sums[t]); err != nil {
			return r.tableFailed(e, t, err), true
		}
		if t.up && erasureAction(e.sub, t) == plan.ActionDelete && !preview {
			released = append([]*table{t}, released...)
		}
	}
	for _, t := range released {
		if err := r.deleteReleased(ctx, e, t, sums[t]); err != nil {
			return r.tableFailed(e, t, err), true
		}
	}
	for _, t := range tables {
		results := sums[t].results(plan.Result{Table: t.name(), Subject: e.sub.ID}, preview)
		for _, res := range results {
			r.logf("subject %s: table %s: %s %d", e.sub.ID, t.name(), res.Outcome, res.Rows)
		}
		r.report.Results = append(r.report.Results, results...)
	}
	return false, false
}

// tableFailed records a table's failure; the subject stops there: its parent rows must
// not change before its children.
func (r *runner) tableFailed(e *erasure, t *table, err error) bool {
	r.report.Results = append(r.report.Results, plan.Result{Table: t.name(), Subject: e.sub.ID, Outcome: plan.OutcomeFailed})
	return r.failIn(err, t.name(), "erasing subject "+e.sub.ID+" in table "+t.name())
}

// readSubjectValue reads the subject's identifier from its mounted Secret file.
func readSubjectValue(sub plan.Subject) (string, error) {
	b, err := os.ReadFile(sub.ValueFile)
	if err != nil {
		return "", engine.Errorf(plan.ErrInvalidPlan, "subject %q: cannot read its value file %s: is the Secret mounted?", sub.ID, sub.ValueFile)
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return "", engine.Errorf(plan.ErrInvalidPlan, "subject %q: its value file %s is empty", sub.ID, sub.ValueFile)
	}
	if err := storable(v); err != nil {
		return "", engine.Errorf(plan.ErrInvalidPlan, "subject %q: its identifier %v", sub.ID, err)
	}
	return v, nil
}

// findSubject finds the subject's row in every subject table with its identity type. An
// identifier matching several rows in a table makes the subject ambiguous: nothing is
// changed for it. No row anywhere: notFound.
func (r *runner) findSubject(ctx context.Context, sub plan.Subject, value string) ([]subjectRow, []plan.Result, error) {
	var rows []subjectRow
	var results []plan.Result
	ambiguous := false
	norm := r.schema.normalization(sub.Type)
	for _, t := range r.subjectTables(sub.Type) {
		keys, n, err := r.lookupSubject(ctx, t, t.identifiers[sub.Type], norm, value)
		if err != nil {
			return nil, nil, err
		}
		switch {
		case n > 1:
			ambiguous = true
			results = append(results, plan.Result{Table: t.name(), Subject: sub.ID, Outcome: plan.OutcomeAmbiguous, Rows: n})
		case n == 1:
			rows = append(rows, subjectRow{t: t, key: keys})
		}
	}
	if ambiguous {
		r.logf("subject %s: ambiguous, nothing changed", sub.ID)
		return nil, results, nil
	}
	if len(rows) == 0 {
		r.logf("subject %s: not found", sub.ID)
		return nil, []plan.Result{{Table: r.subjectTables(sub.Type)[0].name(), Subject: sub.ID, Outcome: plan.OutcomeNotFound}}, nil
	}
	return rows, nil, nil
}

// identifierMatch is a predicate: the row's identifier column matches value as the
// identity type compares identifiers. A text column is normalised in SQL and compared
// with the value normalised in Go and bound; another column compares with the normalised
// value converted to its type. A value that cannot be of the column's type matches nothing.
func identifierMatch(col *engine.Column, norm identifier.Normalization, value string) predicate {
	v := norm.Apply(value)
	if col.Kind == mask.KindText && !norm.Exact() {
		return func(q *query, alias string) {
			q.sql(q.eng.Normalize(ref(alias, col), norm), " = ", q.bind(v))
		}
	}
	typed, err := convert(col, v)
	if err != nil {
		return never
	}
	return keyEquals([]*engine.Column{col}, []any{typed})
}

// lookupSubject returns the key of the row whose identifier column matches value and the
// number of such rows.
func (r *runner) lookupSubject(ctx context.Context, t *table, col *engine.Column, norm identifier.Normalization, value string) ([]any, int64, error) {
	match := identifierMatch(col, norm, value)
	var key []any
	var n int64
	err := r.eng.Tx(ctx, func(tx *sql.Tx) error {
		var err error
		if n, err = countRows(ctx, tx, r.eng, t, match); err != nil || n != 1 {
			return err
		}
		keys, err := selectKeys(ctx, tx, r.eng, t, match, 1, false)
		if err == nil && len(keys) == 1 {
			key = keys[0]
		}
		return err
	})
	return key, n, err
}

// erasureAction is what an erasure does to a table: the subject's action, else the
// table's onErasure, else anonymize.
func erasureAction(sub plan.Subject, t *table) string {
	switch {
	case sub.Action != "":
		return sub.Action
	case t.spec.OnErasure != "":
		return t.spec.OnErasure
	}
	return plan.ActionAnonymize
}

func previewOutcome(outcome string, preview bool) string {
	if !preview {
		return outcome
	}
	switch outcome {
	case plan.OutcomeAnonymized:
		return plan.OutcomeWouldAnonymize
	case plan.OutcomeDeleted:
		return plan.OutcomeWouldDelete
	}
	return outcome
}

// remaining counts the identifying values left after an erasure: masked columns of the
// subject's rows (outside legal holds and shared rows) that still differ from their
// masked value, and subject rows that still carry the identifier.
func (r *runner) remaining(ctx context.Context, erasures []*erasure, identityType, value string) (int64, error) {
	var total int64
	norm := r.schema.normalization(identityType)
	err := r.eng.Tx(ctx, func(tx *sql.Tx) error {
		for _, e := range erasures {
			var failed error
			for _, t := range r.schema.tree(e.row.t) {
				where := and(e.scope(t), r.notHeld(t), r.exclusivePath(t, false, &failed))
				n, err := r.countUnmasked(ctx, tx, t, where)
				if err != nil {
					return err
				}
				if failed != nil {
					return failed
				}
				total += n
			}
			n, err := r.identifierLeft(ctx, tx, e.row.t, e.row.t.identifiers[identityType], norm, value)
			if err != nil {
				return err
			}
			total += n
		}
		return nil
	})
	return total, err
}

// countUnmasked counts, over the rows where holds, the masked columns whose value differs
// from its masked form.
func (r *runner) countUnmasked(ctx context.Context, tx *sql.Tx, t *table, where predicate) (int64, error) {
	cols := t.masked()
	if len(cols) == 0 {
		return 0, nil
	}
	q := newQuery(r.eng).sql("SELECT COALESCE(SUM(")
	for i, c := range cols {
		expr, err := maskedExpr(q, t, c, "t")
		if err != nil {
			return 0, err
		}
		q.sql(sep(i, " + "), "CASE WHEN ", mask.ChangedSQL(r.eng.Dialect(), ref("t", c.col), expr), " THEN 1 ELSE 0 END")
	}
	q.sql("), 0) FROM ", t.cat.Quoted, " t WHERE ")
	and(where)(q, "t")
	var n int64
	err := tx.QueryRowContext(ctx, q.String(), q.args...).Scan(&n)
	return n, err
}

// identifierLeft counts the rows of a subject table (outside its legal holds) that still
// hold the identifier, unless the identifier is the row's key (a key is not personal once
// the row is anonymized).
func (r *runner) identifierLeft(ctx context.Context, tx *sql.Tx, t *table, col *engine.Column, norm identifier.Normalization, value string) (int64, error) {
	if t.cat.InPrimaryKey(col) || isKeyColumn(t, col) {
		return 0, nil
	}
	return countRows(ctx, tx, r.eng, t, and(identifierMatch(col, norm, value), r.notHeld(t)))
}
