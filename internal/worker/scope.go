package worker

import (
	"context"
	"database/sql"
	"slices"

	"github.com/lethe-operator/lethe/internal/engine"
	"github.com/lethe-operator/lethe/internal/plan"
)

// maxSharedRows bounds the rows one subject reaches through a referencedBy link, whose
// keys an erasure holds while it runs. A link to a key reaches at most one row per
// referring row, so only a subject with that many referring rows gets near it.
const maxSharedRows = 10000

// erasure is the erasure of one subject row: which rows of each table of its tree belong
// to it. Rows of referencedBy tables are captured by key before anything changes, because
// the subject's rows that point at them may be deleted on the way.
type erasure struct {
	sub      plan.Subject
	row      subjectRow
	captured map[*table][][]any
}

// prepareErasure captures, top down, the keys of the rows of the referencedBy tables in
// the subject row's tree.
func (r *runner) prepareErasure(ctx context.Context, sub plan.Subject, row subjectRow) (*erasure, error) {
	e := &erasure{sub: sub, row: row, captured: map[*table][][]any{}}
	tables := r.schema.tree(row.t)
	slices.Reverse(tables)
	err := r.eng.Tx(ctx, func(tx *sql.Tx) error {
		for _, t := range tables {
			if !t.up {
				continue
			}
			keys, err := selectKeys(ctx, tx, r.eng, t, e.scope(t), maxSharedRows+1, false)
			if err != nil {
				return err
			}
			if len(keys) > maxSharedRows {
				return engine.Errorf(plan.ErrInvalidPlan, "subject %q reaches more than %d rows of table %q through its referencedBy link: too many to erase as one subject's",
					sub.ID, maxSharedRows, t.name())
			}
			e.captured[t] = keys
		}
		return nil
	})
	return e, err
}

// scope is a predicate on rows of t (a table of the subject row's tree): the row belongs
// to the subject row.
func (e *erasure) scope(t *table) predicate {
	switch {
	case t == e.row.t:
		return keyEquals(t.pk, e.row.key)
	case t.up:
		if keys, ok := e.captured[t]; ok {
			return keysIn(t.pk, keys)
		}
	case t.parent == e.row.t && slices.Equal(t.theirs, e.row.t.pk):
		return keyEquals(t.mine, e.row.key)
	}
	return func(q *query, alias string) {
		parent := q.alias()
		q.sql("EXISTS (SELECT 1 FROM ", t.parent.cat.Quoted, " ", parent, " WHERE ")
		columnsEqual(q, alias, t.mine, parent, t.theirs)
		q.sql(" AND (")
		e.scope(t.parent)(q, parent)
		q.sql("))")
	}
}

// keysIn is keyIn that holds for no row when there are no keys.
func keysIn(cols []*engine.Column, keys [][]any) predicate {
	if len(keys) == 0 {
		return never
	}
	return keyIn(cols, keys)
}

// jobScope is a predicate on rows of x: the row belongs to a subject this run erases, and
// no hold keeps it (nil: no subject of the run reaches x).
func (r *runner) jobScope(x *table) predicate {
	var preds []predicate
	for _, e := range r.job {
		if x.linksTo(e.row.t) {
			preds = append(preds, e.scope(x))
		}
	}
	if len(preds) == 0 {
		return nil
	}
	return and(or(preds...), r.notHeld(x))
}

// anonymized is a predicate: the row's masked columns all hold their masked values (nil:
// the table has no masked column, so there is no telling).
func anonymized(t *table, failed *error) predicate {
	cols := t.masked()
	if len(cols) == 0 {
		return nil
	}
	return not(changed(t, cols, failed))
}

// settled is a predicate on rows of a referring table m: the row does not keep a row it
// points at in use, because this run erases it or it is anonymized already.
func (r *runner) settled(m *table, failed *error) predicate {
	var preds []predicate
	if p := r.jobScope(m); p != nil {
		preds = append(preds, p)
	}
	if p := anonymized(m, failed); p != nil {
		preds = append(preds, p)
	}
	return orOrNil(preds)
}

// foreignReferences are the references to u's rows that can keep them in use by someone
// else: all of them in an erasure; for a retention rule all but u's own referencedBy
// link, whose rows the rule's own conditions judge (an inactive customer's address).
func foreignReferences(u *table, forRule bool) []reference {
	var out []reference
	for _, l := range u.incoming {
		if l.link && forRule {
			continue
		}
		out = append(out, l)
	}
	return out
}

// usedElsewhere is a predicate on rows of u: a row that is neither erased by this run nor
// anonymized already points at it (a shop, a staff member, another customer, a row held
// by law).
func (r *runner) usedElsewhere(u *table, forRule bool, failed *error) predicate {
	refs := foreignReferences(u, forRule)
	if len(refs) == 0 {
		return nil
	}
	return referencedBy(u, refs, func(m *table) predicate {
		if p := r.settled(m, failed); p != nil {
			return not(p)
		}
		return nil
	})
}

// exclusivePath is a predicate on rows of t: no row on t's way to its subject is shared,
// so the row is the subject's alone (nil: nothing on the way can be shared).
func (r *runner) exclusivePath(t *table, forRule bool, failed *error) predicate {
	var preds []predicate
	for _, u := range t.sharedVia() {
		used := r.usedElsewhere(u, forRule, failed)
		if used == nil {
			continue
		}
		if u == t {
			preds = append(preds, not(used))
			continue
		}
		preds = append(preds, func(q *query, alias string) {
			x := q.alias()
			q.sql("NOT EXISTS (SELECT 1 FROM ", u.cat.Quoted, " ", x, " WHERE (")
			linkedToRow(t, u, x)(q, alias)
			q.sql(") AND (")
			used(q, x)
			q.sql("))")
		})
	}
	if len(preds) == 0 {
		return nil
	}
	return and(preds...)
}

// referrers names the tables whose rows point, through refs, at some row of t where
// holds (and, with from, only rows of mapped tables from allows).
func referrers(ctx context.Context, tx *sql.Tx, eng engine.Engine, t *table, where predicate, refs []reference, from survivors) ([]string, error) {
	var names []string
	for _, l := range refs {
		if slices.Contains(names, l.from.Name) {
			continue
		}
		n, err := countRows(ctx, tx, eng, t, and(where, referencedThrough(l, from)))
		if err != nil {
			return nil, err
		}
		if n > 0 {
			names = append(names, l.from.Name)
		}
	}
	slices.Sort(names)
	return names, nil
}

// selectKeys returns the primary keys of up to limit rows of t where holds, in key order,
// locking the rows when forUpdate is set.
func selectKeys(ctx context.Context, tx *sql.Tx, eng engine.Engine, t *table, where predicate, limit int, forUpdate bool) ([][]any, error) {
	q := newQuery(eng).sql("SELECT ")
	for i, c := range t.pk {
		q.sql(sep(i, ", "), ref("t", c))
	}
	q.sql(" FROM ", t.cat.Quoted, " t WHERE ")
	where(q, "t")
	orderBy(q, "t", t.pk)
	q.sql(" LIMIT ", q.bind(int64(limit)))
	if forUpdate {
		q.sql(" FOR UPDATE")
	}
	rows, err := tx.QueryContext(ctx, q.String(), q.args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var keys [][]any
	for rows.Next() {
		key := make([]any, len(t.pk))
		ptrs := make([]any, len(key))
		for i := range key {
			ptrs[i] = &key[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		for i, c := range t.pk {
			key[i] = keyValue(c, key[i])
		}
		keys = append(keys, key)
	}
	return keys, rows.Err()
}
