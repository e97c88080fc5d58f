package worker

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/lethe-operator/lethe/internal/plan"
)

// A rule must say what it spares. Before a retention run (or its dry run) changes anything
// in the database, the worker counts, for every rule, the rows of its table, the rows its
// condition matches and the rows the run would change. It refuses the whole run when a rule
// without allRows matches every row of its table (a condition that spares nothing: notNull
// on a NOT NULL column, ne a value nobody has, olderThan a date every row passes), or when
// a rule would change more rows than its ceiling. Counts first, then the decision, then the
// work: a refused run changes nothing, and a run is never stopped half-way by a ceiling.
//
// The counts cover the whole table, whichever shard the worker runs: every shard of an
// Indexed Job then takes the same decision (changes made meanwhile by other shards only
// lower the share a rule would change).

// ruleCount is what a rule would do to its table, counted before the run.
type ruleCount struct {
	// total is the table's rows; matched, the rows the rule's condition matches (legal
	// hold and masked values aside); changing, the rows the run would delete or anonymize.
	total, matched, changing int64
}

// checkRuleShape refuses, before anything is counted, a rule that has no condition at all
// and does not say allRows, and ceilings that make no sense. A plan written by hand or by
// an older manager gets here without the API server's checks.
func checkRuleShape(spec plan.Rule, mm *mismatches) {
	if !spec.AllRows && spec.OlderThan == "" && spec.InactiveFor == "" && len(spec.Where) == 0 {
		mm.add(spec.Table, "", plan.ErrRuleMatchesEveryRow,
			"rule %q has no olderThan, inactiveFor or where: it would match every row of table %q; give a condition, or set allRows: true if every row is what you mean",
			spec.Name, spec.Table)
	}
	if spec.MaxRows < 0 {
		mm.add(spec.Table, "", plan.ErrInvalidPlan, "rule %q: maxRows %d is negative", spec.Name, spec.MaxRows)
	}
	if spec.MaxPercent < 0 || spec.MaxPercent > 100 {
		mm.add(spec.Table, "", plan.ErrInvalidPlan, "rule %q: maxPercent %d is not between 1 and 100", spec.Name, spec.MaxPercent)
	}
}

// maxPercent is the rule's ceiling as a share of its table.
func maxPercent(spec plan.Rule) int {
	switch {
	case spec.MaxPercent > 0:
		return spec.MaxPercent
	case spec.AllRows:
		return 100
	}
	return plan.DefaultMaxPercent
}

// checkCeilings counts every rule and judges it. It reports each refused rule (an error
// with its code and an outcome refused with the rows it would have changed) and returns
// false when the run must not go ahead.
func (r *runner) checkCeilings(ctx context.Context, preview bool) bool {
	ok := true
	for _, rl := range r.rules {
		c, err := r.countRule(ctx, rl)
		if err != nil {
			r.failIn(err, rl.table.name(), rl.describe()+": counting its rows before the run")
			return false
		}
		r.logf("%s: matches %d and would change %d of %d rows", rl.describe(), c.matched, c.changing, c.total)
		code, msg := judge(rl.spec, rl.table.name(), c, preview)
		if code == "" {
			continue
		}
		ok = false
		rows := c.changing
		if r.shardIndex != 0 {
			rows = 0 // every shard counted the whole table: the first one reports the rows
		}
		r.report.Results = append(r.report.Results, plan.Result{Table: rl.table.name(), Rule: rl.spec.Name, Outcome: plan.OutcomeRefused, Rows: rows})
		r.report.Errors = append(r.report.Errors, plan.Error{Code: code, Message: msg, Table: rl.table.name()})
		r.logf("error %s: %s", code, msg)
	}
	return ok
}

// judge returns the error code and message refusing a rule with these counts, or "" when
// the rule may run.
func judge(spec plan.Rule, table string, c ruleCount, preview bool) (code, message string) {
	outcome := "nothing was changed in this database"
	if preview {
		outcome = "a run would be refused before changing anything"
	}
	switch {
	case c.total == 0:
		return "", ""
	case !spec.AllRows && c.matched == c.total:
		return plan.ErrRuleMatchesEveryRow, fmt.Sprintf(
			"rule %q matches every row of table %q (%d of %d), so it spares nothing: %s. Narrow its condition, or set allRows: true if every row is what you mean",
			spec.Name, table, c.matched, c.total, outcome)
	case spec.MaxRows > 0 && c.changing > spec.MaxRows:
		return plan.ErrRuleAboveCeiling, fmt.Sprintf(
			"rule %q would change %d rows of table %q, above its maxRows of %d: %s. Check its condition with a dry run, or raise maxRows",
			spec.Name, c.changing, table, spec.MaxRows, outcome)
	case c.changing*100 > int64(maxPercent(spec))*c.total:
		return plan.ErrRuleAboveCeiling, fmt.Sprintf(
			"rule %q would change %d of the %d rows of table %q (%.1f%%), above its maxPercent of %d%%: %s. Check its condition with a dry run, or raise maxPercent (a first run that clears years of backlog may need it)",
			spec.Name, c.changing, c.total, table, float64(c.changing)*100/float64(c.total), maxPercent(spec), outcome)
	}
	return "", ""
}

// countRule counts the rule's table in keyset batches, each one short read-only
// transaction, like the run itself.
func (r *runner) countRule(ctx context.Context, rl *rule) (ruleCount, error) {
	var failed error
	changing := r.touches(rl)
	if rl.action == plan.ActionAnonymize {
		changing = and(changing, changed(rl.table, rl.columns, &failed))
	}
	t := rl.table
	var c ruleCount
	b := &batcher{eng: r.eng, t: t, size: r.batchSize}
	_, err := b.run(ctx, func(ctx context.Context, tx *sql.Tx, inRange predicate) (int64, error) {
		q := newQuery(r.eng)
		q.sql("SELECT COUNT(*), COALESCE(SUM(CASE WHEN (")
		rl.match(q, "t")
		q.sql(") THEN 1 ELSE 0 END), 0), COALESCE(SUM(CASE WHEN (")
		changing(q, "t")
		q.sql(") THEN 1 ELSE 0 END), 0) FROM ", t.cat.Quoted, " t WHERE ")
		inRange(q, "t")
		if failed != nil {
			return 0, failed
		}
		var total, matched, change int64
		if err := tx.QueryRowContext(ctx, q.String(), q.args...).Scan(&total, &matched, &change); err != nil {
			return 0, err
		}
		c.total, c.matched, c.changing = c.total+total, c.matched+matched, c.changing+change
		return 0, nil
	})
	return c, err
}
