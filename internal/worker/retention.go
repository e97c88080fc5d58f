package worker

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/lethe-operator/lethe/internal/engine"
	"github.com/lethe-operator/lethe/internal/mask"
	"github.com/lethe-operator/lethe/internal/plan"
)

// tally is what one rule or one subject did to one table.
type tally struct {
	anonymized, deleted, retained int64
	retainedUntil                 time.Time
	capped                        bool
	// bases are the legal holds' bases of the retained rows.
	bases []string
	// referenced rows were kept (and anonymized) instead of deleted, because rows of
	// referencedBy still point at them; shared rows were left as they are, because
	// rows of sharedBy the run does not erase use them; guarded rows a guard keeps.
	referenced, shared, guarded int64
	referencedBy, sharedBy      []string
	guards                      []string
}

// applyRule runs one retention rule (or counts what it would do, for a preview).
func (r *runner) applyRule(ctx context.Context, rl *rule, preview bool) ([]plan.Result, error) {
	t := rl.table
	shard, active, err := r.shardRange(ctx, t)
	if err != nil || !active {
		return nil, err
	}
	b := &batcher{eng: r.eng, t: t, size: r.batchSize, shard: shard, maxRows: r.plan.Options.MaxRows}
	var sum tally
	sum.capped, err = b.run(ctx, func(ctx context.Context, tx *sql.Tx, inRange predicate) (int64, error) {
		return r.ruleBatch(ctx, tx, rl, and(inRange, rl.match), preview, &sum)
	})
	if err != nil {
		return nil, err
	}
	return sum.results(plan.Result{Table: t.name(), Rule: rl.spec.Name}, preview), nil
}

// ruleBatch applies a rule to the rows of one batch that match it.
func (r *runner) ruleBatch(ctx context.Context, tx *sql.Tx, rl *rule, matching predicate, preview bool, sum *tally) (int64, error) {
	t := rl.table
	notHeld, err := r.countRetained(ctx, tx, t, matching, sum)
	if err != nil {
		return 0, err
	}
	action := act{eng: r.eng, t: t, preview: preview}
	var failed error
	if preview {
		// Count as the run would act: after the earlier rules on this table.
		matching = and(matching, r.untouchedBefore(rl, &failed))
	}
	if matching, err = r.ruleKeeps(ctx, tx, rl, and(matching, notHeld), sum, &failed); err != nil {
		return 0, err
	}
	var n int64
	if rl.action == plan.ActionDelete {
		n, err = action.delete(ctx, tx, matching, sum)
	} else {
		n, err = action.anonymize(ctx, tx, rl.columns, matching, sum)
	}
	if failed != nil {
		return 0, failed
	}
	return n, err
}

// addRetained counts n rows a hold with basis keeps until until.
func (s *tally) addRetained(n int64, until time.Time, basis string) {
	s.retained += n
	s.bases = addBasis(s.bases, basis)
	if until.After(s.retainedUntil) {
		s.retainedUntil = until
	}
}

// results turns a tally into report results, each starting from base (table, rule or
// subject): one per outcome with rows, so nothing left in place goes unsaid and nothing
// that did not happen is listed.
func (s tally) results(base plan.Result, preview bool) []plan.Result {
	var out []plan.Result
	add := func(outcome string, rows int64, edit func(*plan.Result)) {
		if rows == 0 {
			return
		}
		r := base
		r.Outcome, r.Rows, r.Capped = previewOutcome(outcome, preview), rows, s.capped
		if edit != nil {
			edit(&r)
		}
		out = append(out, r)
	}
	add(plan.OutcomeDeleted, s.deleted, nil)
	add(plan.OutcomeAnonymized, s.anonymized, nil)
	add(plan.OutcomeRetained, s.retained, func(r *plan.Result) {
		until := s.retainedUntil
		r.RetainedUntil, r.Basis = &until, strings.Join(s.bases, "; ")
	})
	add(plan.OutcomeReferenced, s.referenced, func(r *plan.Result) { r.ReferencedBy = s.referencedBy })
	add(plan.OutcomeShared, s.shared, func(r *plan.Result) { r.ReferencedBy = s.sharedBy })
	add(plan.OutcomeGuarded, s.guarded, func(r *plan.Result) { r.Reason = strings.Join(s.guards, "; ") })
	return out
}

// act deletes or anonymizes rows of one table within a batch, or counts them for a preview.
type act struct {
	eng     engine.Engine
	t       *table
	preview bool
	// survives tells, in a preview, which referencing rows the run would have kept.
	survives survivors
}

// delete deletes the rows where holds, except rows another table still points at: those
// are anonymized instead and counted as referenced, so that a delete never breaks a
// reference or cascades into rows Lethe must keep.
func (a act) delete(ctx context.Context, tx *sql.Tx, where predicate, sum *tally) (int64, error) {
	ref := referenced(a.t, a.survives)
	eng := a.eng
	var n int64
	var err error
	if a.preview {
		n, err = countRows(ctx, tx, eng, a.t, and(where, notOrTrue(ref)))
	} else {
		n, err = deleteRows(ctx, tx, eng, a.t, and(where, notOrTrue(ref)))
	}
	if err != nil {
		return 0, err
	}
	sum.deleted += n
	if ref == nil {
		return n, nil
	}
	if err := countReferenced(ctx, tx, a, and(where, ref), sum); err != nil {
		return 0, err
	}
	kept, err := a.anonymize(ctx, tx, a.t.masked(), and(where, ref), &tally{})
	return n + kept, err
}

// countReferenced counts the rows where holds as referenced: kept because rows point at
// them, with the tables those rows are in.
func countReferenced(ctx context.Context, tx *sql.Tx, a act, where predicate, sum *tally) error {
	n, err := countRows(ctx, tx, a.eng, a.t, where)
	if err != nil || n == 0 {
		return err
	}
	names, err := referrers(ctx, tx, a.eng, a.t, where, a.t.incoming, a.survives)
	sum.referenced += n
	sum.referencedBy = addNames(sum.referencedBy, names...)
	return err
}

// anonymize masks cols in the rows where holds.
func (a act) anonymize(ctx context.Context, tx *sql.Tx, cols []*maskedColumn, where predicate, sum *tally) (int64, error) {
	var n int64
	var err error
	if a.preview {
		n, err = countChanged(ctx, tx, a.eng, a.t, cols, where)
	} else {
		n, err = anonymizeRows(ctx, tx, a.eng, a.t, cols, where)
	}
	sum.anonymized += n
	return n, err
}

func notOrTrue(p predicate) predicate {
	if p == nil {
		return nil
	}
	return not(p)
}

// shardRange returns the predicate for this run's shard of t: the rows whose integer
// primary key is index modulo count. The split depends on nothing that changes while the
// shards run (a range from MIN..MAX would move as other shards delete rows at its ends).
// Tables without a single integer primary key are done by shard 0 alone.
func (r *runner) shardRange(_ context.Context, t *table) (p predicate, active bool, err error) {
	sh := r.plan.Options.Shard
	if sh == nil || sh.Count <= 1 {
		return nil, true, nil
	}
	if len(t.pk) != 1 || t.pk[0].Kind != mask.KindInteger {
		return nil, r.shardIndex == 0, nil
	}
	pk := t.pk[0]
	return func(q *query, alias string) {
		q.sql("ABS(MOD(", ref(alias, pk), ", ", q.bind(int64(sh.Count)), ")) = ", q.bind(int64(r.shardIndex)))
	}, true, nil
}

// describe names a rule in messages.
func (rl *rule) describe() string {
	return fmt.Sprintf("rule %q on table %q", rl.spec.Name, rl.table.name())
}
