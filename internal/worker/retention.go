package worker

import (
	"context"
	"database/sql"
	"fmt"
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
	return sum.results(plan.Result{Table: t.name(), Rule: rl.spec.Name}, t, rl.action, preview), nil
}

// ruleBatch applies a rule to the rows of one batch that match it.
func (r *runner) ruleBatch(ctx context.Context, tx *sql.Tx, rl *rule, matching predicate, preview bool, sum *tally) (int64, error) {
	t := rl.table
	var notHeld predicate
	if t.hold != nil {
		isHeld := held(t.hold, t.hold.retainFor.SubtractFrom(r.now))
		n, latest, err := countHeld(ctx, tx, r.eng, t, and(matching, isHeld))
		if err != nil {
			return 0, err
		}
		sum.addRetained(n, latest)
		notHeld = not(isHeld)
	}
	action := act{eng: r.eng, t: t, preview: preview}
	var failed error
	if preview {
		// Count as the run would act: after the earlier rules on this table.
		matching = and(matching, r.untouchedBefore(rl, &failed))
	}
	var n int64
	var err error
	if rl.action == plan.ActionDelete {
		n, err = action.delete(ctx, tx, and(matching, notHeld), sum)
	} else {
		n, err = action.anonymize(ctx, tx, rl.columns, and(matching, notHeld), sum)
	}
	if failed != nil {
		return 0, failed
	}
	return n, err
}

func (s *tally) addRetained(n int64, latest time.Time) {
	s.retained += n
	if n > 0 && latest.After(s.retainedUntil) {
		s.retainedUntil = latest
	}
}

// results turns a tally into report results, each starting from base (table, rule or
// subject). retainedUntil becomes the latest hold date plus the hold's duration.
func (s tally) results(base plan.Result, t *table, action string, preview bool) []plan.Result {
	anonymized, deleted := plan.OutcomeAnonymized, plan.OutcomeDeleted
	if preview {
		anonymized, deleted = plan.OutcomeWouldAnonymize, plan.OutcomeWouldDelete
	}
	var out []plan.Result
	add := func(outcome string, rows int64) {
		r := base
		r.Outcome, r.Rows, r.Capped = outcome, rows, s.capped
		out = append(out, r)
	}
	if action == plan.ActionDelete {
		add(deleted, s.deleted)
		if s.anonymized > 0 {
			add(anonymized, s.anonymized)
		}
	} else {
		add(anonymized, s.anonymized)
	}
	if s.retained > 0 && t.hold != nil {
		r := base
		until := t.hold.retainFor.AddTo(s.retainedUntil).UTC()
		r.Outcome, r.Rows, r.RetainedUntil = plan.OutcomeRetained, s.retained, &until
		out = append(out, r)
	}
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
// are anonymized instead, so that a delete never breaks a reference or cascades into rows
// Lethe must keep.
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
	kept, err := a.anonymize(ctx, tx, a.t.masked(), and(where, ref), sum)
	return n + kept, err
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
