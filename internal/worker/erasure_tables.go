package worker

import (
	"context"
	"database/sql"
	"slices"

	"github.com/lethe-operator/lethe/internal/plan"
)

// eraseTable anonymizes or deletes the subject's rows in one table (or counts them, for
// a preview). Rows a legal hold keeps are retained, rows shared with someone the run does
// not erase are left as they are; rows of a referencedBy table that the erasure deletes
// are only anonymized here, and deleted by deleteReleased once nothing of the subject's
// points at them.
func (r *runner) eraseTable(ctx context.Context, e *erasure, t *table, preview bool, sum *tally) error {
	scope := e.scope(t)
	action := erasureAction(e.sub, t)
	var failed error
	var survives survivors
	if preview {
		survives = r.erasureSurvivors(e, &failed)
	}
	b := &batcher{eng: r.eng, t: t, size: r.batchSize, scope: scope}
	_, err := b.run(ctx, func(ctx context.Context, tx *sql.Tx, inRange predicate) (int64, error) {
		where := and(inRange, scope)
		notHeld, err := r.countRetained(ctx, tx, t, where, sum)
		if err != nil {
			return 0, err
		}
		where, err = r.countShared(ctx, tx, t, and(where, notHeld), false, sum, &failed)
		if err != nil {
			return 0, err
		}
		a := act{eng: r.eng, t: t, preview: preview, survives: survives}
		var n int64
		switch {
		case action == plan.ActionDelete && t.up && !preview:
			n, err = a.anonymize(ctx, tx, t.masked(), where, &tally{})
		case action == plan.ActionDelete:
			n, err = a.delete(ctx, tx, where, sum)
		default:
			n, err = a.anonymize(ctx, tx, t.masked(), where, sum)
		}
		if failed != nil {
			return 0, failed
		}
		return n, err
	})
	return err
}

// deleteReleased deletes the captured rows of a referencedBy table that nothing points at
// any more now that the subject's rows are gone; rows still pointed at stay (anonymized
// already) and are reported referenced.
func (r *runner) deleteReleased(ctx context.Context, e *erasure, t *table, sum *tally) error {
	var failed error
	where := and(e.scope(t), r.notHeld(t), r.exclusivePath(t, false, &failed))
	ref := referenced(t, nil)
	return r.eng.Tx(ctx, func(tx *sql.Tx) error {
		n, err := deleteRows(ctx, tx, r.eng, t, and(where, notOrTrue(ref)))
		if err != nil {
			return err
		}
		sum.deleted += n
		if ref == nil {
			return failed
		}
		if err := countReferenced(ctx, tx, act{eng: r.eng, t: t}, and(where, ref), sum); err != nil {
			return err
		}
		return failed
	})
}

// countShared counts the rows where holds that belong to the subject (or rule) only in
// part, because a row on their way to the subject is also used by rows the run does not
// erase, and returns where narrowed to the rows that are the subject's alone.
func (r *runner) countShared(ctx context.Context, tx *sql.Tx, t *table, where predicate, forRule bool, sum *tally, failed *error) (predicate, error) {
	excl := r.exclusivePath(t, forRule, failed)
	if excl == nil {
		return where, nil
	}
	shared := and(where, not(excl))
	n, err := countRows(ctx, tx, r.eng, t, shared)
	if err != nil || n == 0 {
		return and(where, excl), err
	}
	sum.shared += n
	for _, u := range t.sharedVia() {
		if u != t {
			sum.sharedBy = addNames(sum.sharedBy, u.name())
			continue
		}
		names, err := referrers(ctx, tx, r.eng, t, shared, foreignReferences(u, forRule), func(m *table) predicate {
			return notOrTrue(r.settled(m, failed))
		})
		if err != nil {
			return nil, err
		}
		sum.sharedBy = addNames(sum.sharedBy, names...)
	}
	return and(where, excl), nil
}

// checkGuards counts, for each of the subject's rows, those its erasure would change
// although a guard keeps them, counting what the erasures of the subjects before it in
// the run change too. Any such row means the subject is not erased at all.
func (r *runner) checkGuards(ctx context.Context, erasures []*erasure) ([]plan.Result, error) {
	all := append(slices.Clone(r.job), erasures...)
	var out []plan.Result
	err := r.eng.Tx(ctx, func(tx *sql.Tx) error {
		for _, e := range erasures {
			for _, t := range r.schema.tree(e.row.t) {
				for _, g := range t.guards {
					var failed error
					mine := and(e.scope(t), r.notHeld(t))
					n, err := countRows(ctx, tx, r.eng, t, and(mine, g.guarded(r.erasuresChange(all, t), &failed)))
					if err != nil {
						return err
					}
					if failed != nil {
						return failed
					}
					if n > 0 {
						out = append(out, plan.Result{Table: t.name(), Subject: e.sub.ID, Outcome: plan.OutcomeGuarded, Rows: n, Reason: g.describe})
					}
				}
			}
		}
		return nil
	})
	return out, err
}

// erasuresChange is a predicate on rows of t: one of the erasures would change the row.
func (r *runner) erasuresChange(erasures []*erasure, t *table) predicate {
	var preds []predicate
	for _, e := range erasures {
		if t.linksTo(e.row.t) {
			preds = append(preds, e.scope(t))
		}
	}
	if len(preds) == 0 {
		return never
	}
	return and(or(preds...), r.notHeld(t))
}

// erasureSurvivors tells a preview which rows of a table the erasure of e would keep:
// all of them in a table it anonymizes or outside the subject's tree; in a table it
// deletes from, all but the subject's rows that no hold keeps, that are the subject's
// alone and that no kept row points at.
func (r *runner) erasureSurvivors(e *erasure, failed *error) survivors {
	visiting := map[*table]bool{}
	var survives survivors
	survives = func(c *table) predicate {
		if !c.linksTo(e.row.t) || erasureAction(e.sub, c) != plan.ActionDelete {
			return nil
		}
		return func(q *query, alias string) {
			if visiting[c] {
				// References that loop back count as kept: the safe answer.
				q.sql("1 = 1")
				return
			}
			visiting[c] = true
			deleted := and(e.scope(c), r.notHeld(c), r.exclusivePath(c, false, failed), notOrTrue(referenced(c, survives)))
			not(deleted)(q, alias)
			visiting[c] = false
		}
	}
	return survives
}

// addNames adds names to a sorted list, each once.
func addNames(list []string, names ...string) []string {
	for _, n := range names {
		if !slices.Contains(list, n) {
			list = append(list, n)
		}
	}
	slices.Sort(list)
	return list
}
