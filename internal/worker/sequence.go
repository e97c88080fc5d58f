package worker

import "github.com/lethe-operator/lethe/internal/plan"

// A preview counts what a retention run would do. The run applies its rules one after the
// other, so a row an earlier rule deleted, or whose columns an earlier rule already masked,
// is not touched again by a later rule. The preview must count the same way, or a dry run
// would report rows twice where rules overlap.

// touches is a predicate: rule e would change this row (its match, outside the legal hold).
// It is never NULL, so it can be negated safely.
func (r *runner) touches(e *rule) predicate {
	return definitely(and(e.match, r.notHeld(e.table)))
}

// definitely turns a predicate that may be NULL into one that is true only when p is.
func definitely(p predicate) predicate {
	return func(q *query, alias string) {
		q.sql("CASE WHEN (")
		p(q, alias)
		q.sql(") THEN 1 ELSE 0 END = 1")
	}
}

// earlierRules are the rules before rl on rl's table, in plan order.
func (r *runner) earlierRules(rl *rule) []*rule {
	var out []*rule
	for _, e := range r.rules {
		if e == rl {
			break
		}
		if e.table == rl.table {
			out = append(out, e)
		}
	}
	return out
}

// untouchedBefore is a predicate for a preview of rl: the row is still there when rl runs,
// and (for anonymize) at least one of rl's columns still differs from its mask after the
// earlier rules ran. It returns nil when no earlier rule shares rl's table.
func (r *runner) untouchedBefore(rl *rule, failed *error) predicate {
	earlier := r.earlierRules(rl)
	if len(earlier) == 0 {
		return nil
	}
	var preds []predicate
	for _, e := range earlier {
		if e.action == plan.ActionDelete {
			preds = append(preds, not(r.touches(e)))
		}
	}
	if rl.action == plan.ActionAnonymize {
		preds = append(preds, r.someColumnLeft(rl, earlier, failed))
	}
	return and(preds...)
}

// someColumnLeft: one of rl's columns differs from its mask and no earlier anonymize rule
// that masks that column touches the row.
func (r *runner) someColumnLeft(rl *rule, earlier []*rule, failed *error) predicate {
	var perColumn []predicate
	for _, c := range rl.columns {
		terms := []predicate{changed(rl.table, []*maskedColumn{c}, failed)}
		for _, e := range earlier {
			if e.action == plan.ActionAnonymize && masks(e, c) {
				terms = append(terms, not(r.touches(e)))
			}
		}
		perColumn = append(perColumn, and(terms...))
	}
	if len(perColumn) == 0 {
		return nil
	}
	return or(perColumn...)
}

func masks(e *rule, c *maskedColumn) bool {
	for _, ec := range e.columns {
		if ec.col == c.col {
			return true
		}
	}
	return false
}
