package worker

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/lethe-operator/lethe/internal/engine"
	"github.com/lethe-operator/lethe/internal/plan"
)

// guard keeps at least keep rows of a table that match where in each group of rows with
// the same per columns (the last administrator of an account). A guarded row is one a
// run would anonymize or delete although fewer than keep other matching rows of its group
// would be left as they are.
type guard struct {
	name  string
	t     *table
	where predicate
	per   []*engine.Column
	keep  int64
	// describe says what the guard keeps, for reports (names and the DataMap's values,
	// never a row's).
	describe string
}

// resolveGuard checks a guard against the table; owner says where it is declared (a
// table's guards, a rule's).
func resolveGuard(t *table, g plan.Guard, owner string, mm *mismatches) *guard {
	before := len(*mm)
	if len(g.Where) == 0 {
		mm.add(t.name(), "", plan.ErrInvalidPlan, "%s %q on table %q has no where: say which rows it keeps", owner, g.Name, t.name())
	}
	var preds []predicate
	var parts []string
	for _, c := range g.Where {
		preds = append(preds, condition(t, fmt.Sprintf("%s %q", owner, g.Name), c, mm))
		parts = append(parts, describeCondition(c))
	}
	gd := &guard{name: g.Name, t: t, where: and(preds...), keep: int64(max(g.KeepAtLeast, 1))}
	for _, name := range g.Per {
		if c, ok := lookup(t.cat, name, fmt.Sprintf("%s %q per", owner, g.Name), mm); ok {
			gd.per = append(gd.per, c)
		}
	}
	gd.describe = fmt.Sprintf("guard %q keeps at least %d row(s) of table %q where %s", g.Name, gd.keep, t.name(), strings.Join(parts, " and "))
	if len(gd.per) > 0 {
		gd.describe += " per " + columnNames(gd.per)
	}
	if len(*mm) > before {
		return nil
	}
	return gd
}

func describeCondition(c plan.Condition) string {
	switch c.Op {
	case plan.OpIsNull:
		return c.Column + " is null"
	case plan.OpNotNull:
		return c.Column + " is not null"
	case plan.OpIn:
		return fmt.Sprintf("%s in (%s)", c.Column, strings.Join(c.Values, ", "))
	}
	return fmt.Sprintf("%s %s %s", c.Column, c.Op, c.Value)
}

// live is a predicate: the row is still usable as what the guard keeps, that is, not
// anonymized already (some masked column still differs from its mask). A table without
// masked columns has only live rows.
func live(t *table, failed *error) predicate {
	cols := t.masked()
	if len(cols) == 0 {
		return nil
	}
	return changed(t, cols, failed)
}

// guarded is a predicate on rows of the guard's table: the row matches the guard, is
// live, would be changed (changes, a predicate), and fewer than keep other live matching
// rows of its group would be left. Among the rows of a group that would all be changed,
// the ones with the highest keys are the ones left, so the answer does not depend on the
// batch a row is in: rows changed in earlier batches have lower keys and no longer count.
func (g *guard) guarded(changes predicate, failed *error) predicate {
	isLive := live(g.t, failed)
	return definitely(func(q *query, alias string) {
		and(g.where, isLive, changes)(q, alias)
		other := q.alias()
		q.sql(" AND (SELECT COUNT(*) FROM ", g.t.cat.Quoted, " ", other, " WHERE ")
		for _, c := range g.per {
			q.sql(ref(other, c), " = ", ref(alias, c), " AND ")
		}
		leftAlone := or(not(definitely(changes)), rowAfter(g.t.pk, alias))
		and(g.where, isLive, leftAlone)(q, other)
		q.sql(") < ", q.bind(g.keep))
	})
}

// rowAfter is a predicate on a row of the same table: its key sorts after the key of the
// row under outer.
func rowAfter(pk []*engine.Column, outer string) predicate {
	return func(q *query, alias string) {
		for i := range pk {
			q.sql(sep(i, " OR "), "(")
			for j := 0; j < i; j++ {
				q.sql(ref(alias, pk[j]), " = ", ref(outer, pk[j]), " AND ")
			}
			q.sql(ref(alias, pk[i]), " > ", ref(outer, pk[i]), ")")
		}
	}
}

// guardsOf returns the guards that apply to a rule's run on t, or to an erasure (rule nil).
func guardsOf(t *table, rl *rule) []*guard {
	if rl == nil {
		return t.guards
	}
	return append(append([]*guard(nil), t.guards...), rl.guards...)
}

// ruleKeeps counts the rows matching a rule that it must leave as they are: rows shared
// with someone the rule does not cover, and rows its guards keep. It returns matching
// narrowed to the rows the rule may change.
func (r *runner) ruleKeeps(ctx context.Context, tx *sql.Tx, rl *rule, matching predicate, sum *tally, failed *error) (predicate, error) {
	t := rl.table
	where, err := r.countShared(ctx, tx, t, matching, true, sum, failed)
	if err != nil {
		return nil, err
	}
	guards := guardsOf(t, rl)
	if len(guards) == 0 {
		return where, nil
	}
	changes := r.ruleChanges(rl, failed)
	for _, g := range guards {
		kept := g.guarded(changes, failed)
		n, err := countRows(ctx, tx, r.eng, t, and(where, kept))
		if err != nil {
			return nil, err
		}
		if n > 0 {
			sum.guarded += n
			sum.guards = addNames(sum.guards, g.describe)
		}
		where = and(where, not(kept))
	}
	return where, nil
}

// ruleChanges is a predicate: the rule would change the row (whatever batch it is in).
func (r *runner) ruleChanges(rl *rule, failed *error) predicate {
	t := rl.table
	preds := []predicate{rl.match, r.notHeld(t), r.exclusivePath(t, true, failed)}
	if rl.action == plan.ActionAnonymize {
		preds = append(preds, changed(t, rl.columns, failed))
	}
	return and(preds...)
}
