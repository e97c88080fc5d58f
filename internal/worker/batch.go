package worker

import (
	"context"
	"database/sql"
	"slices"
	"strconv"
	"strings"

	"github.com/lethe-operator/lethe/internal/engine"
	"github.com/lethe-operator/lethe/internal/mask"
)

// DefaultBatchSize is the number of rows per keyset batch when the plan sets none.
const DefaultBatchSize = 5000

// batcher walks a table in primary-key order, one keyset range at a time. Each range is
// one short transaction: the worker never holds locks for long, never reads a table into
// memory, and a run killed between two batches has committed whole batches only.
type batcher struct {
	eng  engine.Engine
	t    *table
	size int
	// scope restricts which rows count towards a batch's size (nil: every row), so that
	// a few linked rows in a big table take one batch, not a walk of the whole table.
	scope predicate
	// shard restricts the walk to one primary-key range (nil: the whole table).
	shard predicate
	// maxRows caps the rows fn may report as changed over the walk (0: no cap).
	maxRows int64
}

// batchFunc does one batch's work inside its transaction on the rows inRange selects, and
// returns how many rows it changed.
type batchFunc func(ctx context.Context, tx *sql.Tx, inRange predicate) (int64, error)

// run calls fn for every batch. capped reports that maxRows stopped the walk early.
func (b *batcher) run(ctx context.Context, fn batchFunc) (capped bool, err error) {
	var after []any
	var done int64
	for {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		size := int64(b.size)
		if b.maxRows > 0 {
			if done >= b.maxRows {
				return true, nil
			}
			size = min(size, b.maxRows-done)
		}
		var upTo []any
		err := b.eng.Tx(ctx, func(tx *sql.Tx) error {
			var err error
			if upTo, err = b.bound(ctx, tx, after, size); err != nil {
				return err
			}
			var inRange []predicate
			if after != nil {
				inRange = append(inRange, keysetAfter(b.t.pk, after))
			}
			if upTo != nil {
				inRange = append(inRange, keysetUpTo(b.t.pk, upTo))
			}
			n, err := fn(ctx, tx, and(append(inRange, b.shard)...))
			done += n
			return err
		})
		if err != nil {
			return false, err
		}
		if upTo == nil {
			return false, nil
		}
		after = upTo
	}
}

// bound returns the primary key of the size-th row after the key after (within scope and
// shard): the upper end of the next batch. nil means fewer rows are left: the batch runs
// to the end of the table.
func (b *batcher) bound(ctx context.Context, tx *sql.Tx, after []any, size int64) ([]any, error) {
	q := newQuery(b.eng)
	q.sql("SELECT ")
	for i, c := range b.t.pk {
		q.sql(sep(i, ", "), ref("t", c))
	}
	q.sql(" FROM ", b.t.cat.Quoted, " t WHERE ")
	var where []predicate
	if after != nil {
		where = append(where, keysetAfter(b.t.pk, after))
	}
	and(append(where, b.scope, b.shard)...)(q, "t")
	orderBy(q, "t", b.t.pk)
	q.sql(" LIMIT 1 OFFSET ", strconv.FormatInt(size-1, 10))
	key := make([]any, len(b.t.pk))
	ptrs := make([]any, len(key))
	for i := range key {
		ptrs[i] = &key[i]
	}
	err := tx.QueryRowContext(ctx, q.String(), q.args...).Scan(ptrs...)
	if err == sql.ErrNoRows {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	for i, c := range b.t.pk {
		key[i] = keyValue(c, key[i])
	}
	return key, nil
}

// keyValue turns a scanned key value back into one that binds with the column's type:
// MySQL's text protocol returns bytes, and bytes would compare as a binary string.
func keyValue(c *engine.Column, v any) any {
	raw, ok := v.([]byte)
	if !ok {
		return v
	}
	switch c.Kind {
	case mask.KindInteger:
		if n, err := strconv.ParseInt(string(raw), 10, 64); err == nil {
			return n
		}
	case mask.KindText, mask.KindDecimal:
		return string(raw)
	case mask.KindDate, mask.KindTimestamp:
		if t, err := parseTime(strings.Replace(string(raw), " ", "T", 1), c.Type); err == nil {
			return t
		}
	}
	return raw
}

// countRows counts the rows of t where holds.
func countRows(ctx context.Context, tx *sql.Tx, eng engine.Engine, t *table, where predicate) (int64, error) {
	q := newQuery(eng)
	q.sql("SELECT COUNT(*) FROM ", t.cat.Quoted, " t WHERE ")
	where(q, "t")
	var n int64
	err := tx.QueryRowContext(ctx, q.String(), q.args...).Scan(&n)
	return n, err
}

// deleteRows deletes the rows of t where holds.
func deleteRows(ctx context.Context, tx *sql.Tx, eng engine.Engine, t *table, where predicate) (int64, error) {
	q := newQuery(eng)
	if eng.Dialect() == mask.MySQL {
		// The multi-table form is the one that takes an alias in MySQL and MariaDB alike.
		q.sql("DELETE t FROM ", t.cat.Quoted, " t WHERE ")
	} else {
		q.sql("DELETE FROM ", t.cat.Quoted, " t WHERE ")
	}
	where(q, "t")
	if eng.Dialect() == mask.MySQL && readsItself(q, t) {
		return deleteByKeys(ctx, tx, eng, t, where)
	}
	res, err := tx.ExecContext(ctx, q.String(), q.args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// readsItself reports whether a statement on t also reads t in a subquery (a
// self-reference such as staff.reports_to), which MySQL and MariaDB refuse in a DELETE
// (error 1093).
func readsItself(q *query, t *table) bool {
	return strings.Count(q.String(), "FROM "+t.cat.Quoted+" ") > 1
}

// deleteByKeys deletes the rows of t where holds in two steps, for MySQL: it locks and
// reads their keys, then deletes them by key. The rows are those of one batch (or one
// subject's), so the keys are few.
func deleteByKeys(ctx context.Context, tx *sql.Tx, eng engine.Engine, t *table, where predicate) (int64, error) {
	keys, err := selectKeys(ctx, tx, eng, t, where, maxBatchSize, true)
	if err != nil {
		return 0, err
	}
	var n int64
	for chunk := range slices.Chunk(keys, 500) {
		q := newQuery(eng).sql("DELETE t FROM ", t.cat.Quoted, " t WHERE ")
		keyIn(t.pk, chunk)(q, "t")
		res, err := tx.ExecContext(ctx, q.String(), q.args...)
		if err != nil {
			return n, err
		}
		affected, err := res.RowsAffected()
		n += affected
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// anonymizeRows masks cols in the rows of t where holds, skipping rows whose values are
// already masked.
func anonymizeRows(ctx context.Context, tx *sql.Tx, eng engine.Engine, t *table, cols []*maskedColumn, where predicate) (int64, error) {
	if len(cols) == 0 {
		return 0, nil
	}
	q := newQuery(eng)
	q.sql("UPDATE ", t.cat.Quoted, " t SET ")
	for i, c := range cols {
		expr, err := maskedExpr(q, t, c, "t")
		if err != nil {
			return 0, err
		}
		q.sql(sep(i, ", "), c.col.Quoted, " = ", expr)
	}
	q.sql(" WHERE ")
	var failed error
	and(where, changed(t, cols, &failed))(q, "t")
	if failed != nil {
		return 0, failed
	}
	res, err := tx.ExecContext(ctx, q.String(), q.args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// countChanged counts the rows of t where holds whose cols still differ from their masked
// values: what anonymizeRows would change.
func countChanged(ctx context.Context, tx *sql.Tx, eng engine.Engine, t *table, cols []*maskedColumn, where predicate) (int64, error) {
	if len(cols) == 0 {
		return 0, nil
	}
	var failed error
	n, err := countRows(ctx, tx, eng, t, and(where, changed(t, cols, &failed)))
	if failed != nil {
		return 0, failed
	}
	return n, err
}
