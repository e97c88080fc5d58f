package worker

import (
	"context"
	"database/sql"
	"os"
	"strings"

	"github.com/lethe-operator/lethe/internal/engine"
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

// eraseSubjects erases (or, for a preview, counts) every subject of the plan.
func (r *runner) eraseSubjects(ctx context.Context, preview bool) {
	for _, sub := range r.plan.Subjects {
		if stop := r.eraseSubject(ctx, sub, preview); stop {
			return
		}
	}
}

func (r *runner) eraseSubject(ctx context.Context, sub plan.Subject, preview bool) (stop bool) {
	value, err := readSubjectValue(sub)
	if err != nil {
		r.fail(err)
		return false
	}
	rows, results, err := r.findSubject(ctx, sub, value)
	r.report.Results = append(r.report.Results, results...)
	if err != nil {
		return r.failIn(err, "", "finding subject "+sub.ID)
	}
	for _, row := range rows {
		for _, t := range r.schema.tree(row.t) {
			results, err := r.eraseTable(ctx, sub, row, t, preview)
			r.report.Results = append(r.report.Results, results...)
			if err != nil {
				r.report.Results = append(r.report.Results, plan.Result{Table: t.name(), Subject: sub.ID, Outcome: plan.OutcomeFailed})
				// Stop this subject: its parent rows must not change before its children.
				return r.failIn(err, t.name(), "erasing subject "+sub.ID+" in table "+t.name())
			}
		}
	}
	if preview || len(rows) == 0 {
		return false
	}
	left, err := r.remaining(ctx, rows, sub.Type, value)
	if err != nil {
		return r.failIn(err, "", "checking what is left of subject "+sub.ID)
	}
	if r.report.Remaining == nil {
		r.report.Remaining = map[string]int64{}
	}
	r.report.Remaining[sub.ID] = left
	r.logf("subject %s: %d identifying values left", sub.ID, left)
	return false
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
	for _, t := range r.subjectTables(sub.Type) {
		keys, n, err := r.lookupSubject(ctx, t, t.identifiers[sub.Type], value)
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

// lookupSubject returns the key of the row whose identifier column equals value and the
// number of such rows. A value that cannot be of the column's type matches nothing.
func (r *runner) lookupSubject(ctx context.Context, t *table, col *engine.Column, value string) ([]any, int64, error) {
	v, err := convert(col, value)
	if err != nil {
		return nil, 0, nil
	}
	var key []any
	var n int64
	err = r.eng.Tx(ctx, func(tx *sql.Tx) error {
		match := keyEquals([]*engine.Column{col}, []any{v})
		var err error
		if n, err = countRows(ctx, tx, r.eng, t, match); err != nil || n != 1 {
			return err
		}
		q := newQuery(r.eng).sql("SELECT ")
		for i, c := range t.pk {
			q.sql(sep(i, ", "), ref("t", c))
		}
		q.sql(" FROM ", t.cat.Quoted, " t WHERE ")
		match(q, "t")
		key = make([]any, len(t.pk))
		ptrs := make([]any, len(key))
		for i := range key {
			ptrs[i] = &key[i]
		}
		return tx.QueryRowContext(ctx, q.String(), q.args...).Scan(ptrs...)
	})
	for i, c := range t.pk {
		if key != nil {
			key[i] = keyValue(c, key[i])
		}
	}
	return key, n, err
}

// eraseTable anonymizes or deletes the subject's rows in one table, leaving rows under a
// legal hold alone.
func (r *runner) eraseTable(ctx context.Context, sub plan.Subject, row subjectRow, t *table, preview bool) ([]plan.Result, error) {
	linked := linkedTo(t, row.t, row.key)
	action := erasureAction(sub, t)
	b := &batcher{eng: r.eng, t: t, size: r.batchSize, scope: linked}
	var sum tally
	_, err := b.run(ctx, func(ctx context.Context, tx *sql.Tx, inRange predicate) (int64, error) {
		where := and(inRange, linked)
		var notHeld predicate
		if t.hold != nil {
			isHeld := held(t.hold, t.hold.retainFor.SubtractFrom(r.now))
			n, latest, err := countHeld(ctx, tx, r.eng, t, and(where, isHeld))
			if err != nil {
				return 0, err
			}
			sum.addRetained(n, latest)
			notHeld = not(isHeld)
		}
		a := act{eng: r.eng, t: t, preview: preview}
		if preview {
			a.survives = r.erasureSurvivors(sub, row)
		}
		if action == plan.ActionDelete {
			return a.delete(ctx, tx, and(where, notHeld), &sum)
		}
		return a.anonymize(ctx, tx, t.masked(), and(where, notHeld), &sum)
	})
	if err != nil {
		return nil, err
	}
	results := sum.results(plan.Result{Table: t.name(), Subject: sub.ID}, t, action, preview)
	for _, res := range results {
		r.logf("subject %s: table %s: %s %d", sub.ID, t.name(), res.Outcome, res.Rows)
	}
	return results, nil
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

// erasureSurvivors tells a preview which rows of a table below the subject's row the
// erasure would keep: all of them in a table it anonymizes; in a table it deletes from,
// the rows under a legal hold and the rows still referenced by kept rows.
func (r *runner) erasureSurvivors(sub plan.Subject, row subjectRow) survivors {
	var survives survivors
	survives = func(c *table) predicate {
		if !c.linksTo(row.t) || erasureAction(sub, c) != plan.ActionDelete {
			return nil
		}
		var kept []predicate
		if c.hold != nil {
			kept = append(kept, held(c.hold, c.hold.retainFor.SubtractFrom(r.now)))
		}
		if ref := referenced(c, survives); ref != nil {
			kept = append(kept, ref)
		}
		if len(kept) == 0 {
			return never
		}
		return or(kept...)
	}
	return survives
}

// remaining counts the identifying values left after an erasure: masked columns of the
// subject's rows (outside legal holds) that still differ from their masked value, and
// subject rows that still carry the identifier.
func (r *runner) remaining(ctx context.Context, rows []subjectRow, identityType, value string) (int64, error) {
	var total int64
	err := r.eng.Tx(ctx, func(tx *sql.Tx) error {
		for _, row := range rows {
			for _, t := range r.schema.tree(row.t) {
				where := and(linkedTo(t, row.t, row.key), r.notHeld(t))
				n, err := r.countUnmasked(ctx, tx, t, where)
				if err != nil {
					return err
				}
				total += n
			}
			n, err := r.identifierLeft(ctx, tx, row.t, row.t.identifiers[identityType], value)
			if err != nil {
				return err
			}
			total += n
		}
		return nil
	})
	return total, err
}

// notHeld is a predicate: the row is not under its table's legal hold (nil: no hold).
func (r *runner) notHeld(t *table) predicate {
	if t.hold == nil {
		return nil
	}
	return not(held(t.hold, t.hold.retainFor.SubtractFrom(r.now)))
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

// identifierLeft counts the rows of a subject table (outside its legal hold) that still
// hold the identifier, unless the identifier is the row's key (a key is not personal once
// the row is anonymized).
func (r *runner) identifierLeft(ctx context.Context, tx *sql.Tx, t *table, col *engine.Column, value string) (int64, error) {
	if t.cat.InPrimaryKey(col) || isKeyColumn(t, col) {
		return 0, nil
	}
	v, err := convert(col, value)
	if err != nil {
		return 0, nil
	}
	return countRows(ctx, tx, r.eng, t, and(keyEquals([]*engine.Column{col}, []any{v}), r.notHeld(t)))
}
