package worker

import (
	"context"
	"database/sql"
	"slices"
	"strings"
	"time"

	"github.com/lethe-operator/lethe/internal/duration"
	"github.com/lethe-operator/lethe/internal/engine"
	"github.com/lethe-operator/lethe/internal/mask"
	"github.com/lethe-operator/lethe/internal/plan"
)

// hold is a legal duty to keep rows until a date plus RetainFor. It runs from a date
// column of the table it is declared on or of a table above it (dates); with covers
// record it also keeps the rows linked below the held rows by subjectVia: an invoice's
// lines are part of the invoice.
type hold struct {
	basis     string
	dates     *table
	from      *engine.Column
	retainFor duration.Duration
}

// resolveHolds sets the holds that keep t's rows: t's own, then those of the tables above
// it, along subjectVia links only, whose hold covers the record. A referencedBy step ends
// the record: an address a held invoice points at is not part of the invoice.
func resolveHolds(s *schema, t *table, mm *mismatches) {
	if lh := t.spec.LegalHold; lh != nil {
		if h := resolveHold(s, t, lh, mm); h != nil {
			t.holds = append(t.holds, h)
		}
	}
	for cur := t; cur.parent != nil && !cur.up; cur = cur.parent {
		above := cur.parent
		if lh := above.spec.LegalHold; lh != nil && lh.Covers != plan.HoldCoversRow {
			// The owner's own resolution reports its mismatches; here only a good hold counts.
			var ignore mismatches
			if h := resolveHold(s, above, lh, &ignore); h != nil {
				t.holds = append(t.holds, h)
			}
		}
	}
}

func resolveHold(s *schema, t *table, lh *plan.LegalHold, mm *mismatches) *hold {
	switch lh.Covers {
	case "", plan.HoldCoversRecord, plan.HoldCoversRow:
	default:
		mm.add(t.name(), "", plan.ErrInvalidPlan, "legal hold of table %q: covers %q is not record or row", t.name(), lh.Covers)
		return nil
	}
	dates, column := t, lh.From
	if i := strings.LastIndex(lh.From, "."); i >= 0 {
		above, ok := s.byName[lh.From[:i]]
		if !ok || !t.linksTo(above) {
			mm.add(t.name(), "", plan.ErrInvalidPlan, "legal hold of table %q runs from %q: table %q is not a table this one links to on the way to its data subject",
				t.name(), lh.From, lh.From[:i])
			return nil
		}
		dates, column = above, lh.From[i+1:]
	}
	from, ok := lookup(dates.cat, column, "legal hold", mm)
	if ok && from.Kind != mask.KindDate && from.Kind != mask.KindTimestamp {
		mm.add(dates.name(), column, plan.ErrInvalidPlan, "legal hold column %q of table %q is %s, not a date or timestamp", column, dates.name(), from.Type)
		ok = false
	}
	retainFor, err := duration.Parse(lh.RetainFor)
	if err != nil {
		mm.add(t.name(), "", plan.ErrInvalidPlan, "legal hold of table %q: retainFor: %v", t.name(), err)
		return nil
	}
	if !ok {
		return nil
	}
	return &hold{basis: lh.Basis, dates: dates, from: from, retainFor: retainFor}
}

// writeHeldDate writes the SQL expression of the date a row of t (under alias) is held
// from: the hold's column in t itself, or the latest one among the rows of the dates
// table it links to.
func writeHeldDate(q *query, t *table, h *hold, alias string) {
	if h.dates == t {
		q.sql(ref(alias, h.from))
		return
	}
	x := q.alias()
	q.sql("(SELECT MAX(", ref(x, h.from), ") FROM ", h.dates.cat.Quoted, " ", x, " WHERE ")
	linkedToRow(t, h.dates, x)(q, alias)
	q.sql(")")
}

// heldBy is a predicate: the row of t is under hold h at now (its date after now minus
// RetainFor). A row without a date is not held. Never NULL, so NOT(heldBy) is safe.
func heldBy(t *table, h *hold, now time.Time) predicate {
	cutoff := h.retainFor.SubtractFrom(now)
	return func(q *query, alias string) {
		q.sql("CASE WHEN ")
		writeHeldDate(q, t, h, alias)
		q.sql(" > ", q.bind(cutoff), " THEN 1 ELSE 0 END = 1")
	}
}

// held is a predicate: some hold keeps the row of t (nil when t has no hold).
func (r *runner) held(t *table) predicate {
	if len(t.holds) == 0 {
		return nil
	}
	var preds []predicate
	for _, h := range t.holds {
		preds = append(preds, heldBy(t, h, r.now))
	}
	return or(preds...)
}

// notHeld is a predicate: no hold keeps the row (nil: t has no hold).
func (r *runner) notHeld(t *table) predicate {
	return notOrTrue(r.held(t))
}

// countRetained counts the rows where holds that a hold keeps, adds them to sum with the
// latest retained-until date and the holds' bases, and returns the predicate of the rows
// no hold keeps (nil when t has no hold).
func (r *runner) countRetained(ctx context.Context, tx *sql.Tx, t *table, where predicate, sum *tally) (predicate, error) {
	var earlier []predicate
	for _, h := range t.holds {
		this := heldBy(t, h, r.now)
		n, latest, err := countHeldBy(ctx, tx, r.eng, t, h, and(where, notOrTrue(orOrNil(earlier)), this))
		if err != nil {
			return nil, err
		}
		if n > 0 {
			sum.addRetained(n, h.retainFor.AddTo(latest).UTC(), h.basis)
		}
		earlier = append(earlier, this)
	}
	return r.notHeld(t), nil
}

// countHeldBy counts the rows of t where holds and returns the latest hold date among them.
func countHeldBy(ctx context.Context, tx *sql.Tx, eng engine.Engine, t *table, h *hold, where predicate) (int64, time.Time, error) {
	q := newQuery(eng)
	q.sql("SELECT COUNT(*), MAX(")
	writeHeldDate(q, t, h, "t")
	q.sql(") FROM ", t.cat.Quoted, " t WHERE ")
	where(q, "t")
	var n int64
	var latest sql.NullTime
	err := tx.QueryRowContext(ctx, q.String(), q.args...).Scan(&n, &latest)
	return n, latest.Time, err
}

// orOrNil is the disjunction of preds, or nil for none.
func orOrNil(preds []predicate) predicate {
	if len(preds) == 0 {
		return nil
	}
	return or(preds...)
}

// addBasis adds a hold's basis to a sorted list, once.
func addBasis(bases []string, basis string) []string {
	if slices.Contains(bases, basis) {
		return bases
	}
	bases = append(bases, basis)
	slices.Sort(bases)
	return bases
}
