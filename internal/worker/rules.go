package worker

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/lethe-operator/lethe/internal/duration"
	"github.com/lethe-operator/lethe/internal/engine"
	"github.com/lethe-operator/lethe/internal/mask"
	"github.com/lethe-operator/lethe/internal/plan"
)

// rule is a retention rule resolved against the schema.
type rule struct {
	spec   plan.Rule
	table  *table
	action string
	// columns are the columns an anonymize rule masks.
	columns []*maskedColumn
	// match selects the rows the rule applies to, legal hold aside.
	match predicate
	// guards are the rule's own guards (its table's apply too).
	guards []*guard
}

// resolveRule checks a rule against the schema; it records every problem in mm and
// returns nil when the rule cannot run.
func resolveRule(s *schema, spec plan.Rule, now time.Time, mm *mismatches) *rule {
	t, ok := s.byName[spec.Table]
	if !ok {
		mm.add(spec.Table, "", plan.ErrUnknownIdentifier, "rule %q: table %q is not a table of the DataMap in the database", spec.Name, spec.Table)
		return nil
	}
	r := &rule{spec: spec, table: t, action: spec.Action}
	before := len(*mm)
	switch spec.Action {
	case plan.ActionAnonymize:
		r.columns = ruleColumns(t, spec, mm)
	case plan.ActionDelete:
		if len(spec.Columns) > 0 {
			mm.add(t.name(), "", plan.ErrInvalidPlan, "rule %q deletes rows: it takes no columns", spec.Name)
		}
	default:
		mm.add(t.name(), "", plan.ErrInvalidPlan, "rule %q: action %q is not anonymize or delete", spec.Name, spec.Action)
	}
	var preds []predicate
	for _, c := range spec.Where {
		preds = append(preds, condition(t, spec.Name, c, mm))
	}
	preds = append(preds, olderThan(t, spec, now, mm), inactive(s, t, spec, now, mm))
	r.match = and(preds...)
	for _, g := range spec.Guards {
		if gd := resolveGuard(t, g, fmt.Sprintf("rule %q guard", spec.Name), mm); gd != nil {
			r.guards = append(r.guards, gd)
		}
	}
	if len(*mm) > before {
		return nil
	}
	return r
}

func ruleColumns(t *table, spec plan.Rule, mm *mismatches) []*maskedColumn {
	if len(spec.Columns) == 0 {
		cols := t.masked()
		if len(cols) == 0 {
			mm.add(t.name(), "", plan.ErrInvalidPlan, "rule %q anonymizes table %q, which has no masked column in the DataMap", spec.Name, t.name())
		}
		return cols
	}
	var cols []*maskedColumn
	for _, name := range spec.Columns {
		c, ok := t.column(name)
		switch {
		case !ok:
			mm.add(t.name(), name, plan.ErrUnknownIdentifier, "rule %q: column %q is not a personal column of table %q in the DataMap", spec.Name, name, t.name())
		case c.masker.Keeps():
			mm.add(t.name(), name, plan.ErrInvalidPlan, "rule %q: column %q of table %q has strategy keep: nothing to anonymize", spec.Name, name, t.name())
		default:
			cols = append(cols, c)
		}
	}
	return cols
}

// olderThan is the rule's age condition: Column before Now - OlderThan.
func olderThan(t *table, spec plan.Rule, now time.Time, mm *mismatches) predicate {
	if spec.OlderThan == "" && spec.Column == "" {
		return nil
	}
	if spec.InactiveFor != "" {
		mm.add(t.name(), "", plan.ErrInvalidPlan, "rule %q sets both olderThan and inactiveFor: choose one", spec.Name)
		return nil
	}
	if spec.OlderThan == "" || spec.Column == "" {
		mm.add(t.name(), "", plan.ErrInvalidPlan, "rule %q: olderThan and column go together", spec.Name)
		return nil
	}
	d, err := duration.Parse(spec.OlderThan)
	if err != nil {
		mm.add(t.name(), "", plan.ErrInvalidPlan, "rule %q: olderThan: %v", spec.Name, err)
		return nil
	}
	col, ok := lookup(t.cat, spec.Column, fmt.Sprintf("rule %q", spec.Name), mm)
	if !ok || !isTime(col, t.name(), spec.Name, mm) {
		return nil
	}
	cutoff := d.SubtractFrom(now)
	return func(q *query, alias string) {
		q.sql(ref(alias, col), " < ", q.bind(cutoff))
	}
}

func isTime(col *engine.Column, table, rule string, mm *mismatches) bool {
	if col.Kind == mask.KindDate || col.Kind == mask.KindTimestamp {
		return true
	}
	mm.add(table, col.Name, plan.ErrInvalidPlan, "rule %q: column %q of table %q is %s, not a date or timestamp", rule, col.Name, table, col.Type)
	return false
}

// activity is one "table.column" timestamp of an inactivity rule.
type activity struct {
	table *table
	col   *engine.Column
}

// inactive is the rule's inactivity condition: the row reaches a data subject (unless the
// rule includes orphans), and no activity timestamp of any data subject it reaches (in
// the row's table or any table linked to the same subject) is after Now - InactiveFor.
func inactive(s *schema, t *table, spec plan.Rule, now time.Time, mm *mismatches) predicate {
	if spec.InactiveFor == "" && len(spec.Activity) == 0 {
		return nil
	}
	if spec.InactiveFor == "" || len(spec.Activity) == 0 {
		mm.add(t.name(), "", plan.ErrInvalidPlan, "rule %q: inactiveFor and activity go together", spec.Name)
		return nil
	}
	d, err := duration.Parse(spec.InactiveFor)
	if err != nil {
		mm.add(t.name(), "", plan.ErrInvalidPlan, "rule %q: inactiveFor: %v", spec.Name, err)
		return nil
	}
	var acts []activity
	for _, a := range spec.Activity {
		if act, ok := resolveActivity(s, t, spec.Name, a, mm); ok {
			acts = append(acts, act)
		}
	}
	if len(acts) != len(spec.Activity) {
		return nil
	}
	cutoff := d.SubtractFrom(now)
	var preds []predicate
	if !spec.IncludeOrphans {
		preds = append(preds, reachesSubject(t))
	}
	for _, a := range acts {
		preds = append(preds, not(recentActivity(t, a, cutoff)))
	}
	return and(preds...)
}

// reachesSubject is a predicate on rows of t: the row's links reach a row of its subject
// table (nil for the subject table itself, whose rows are subjects). Without it, "no
// recent activity" would also hold for a row that belongs to no subject at all: a shop's
// address, a booking whose customer_id is NULL.
func reachesSubject(t *table) predicate {
	root := t.root()
	if t == root {
		return nil
	}
	return func(q *query, alias string) {
		subject := q.alias()
		q.sql("EXISTS (SELECT 1 FROM ", root.cat.Quoted, " ", subject, " WHERE ")
		linkedToRow(t, root, subject)(q, alias)
		q.sql(")")
	}
}

// recentActivity is a predicate on rows of t: the row's data subject shows activity in a
// after cutoff. The activity table may be t itself, below it, above it (up to the subject
// table), or beside it under the same subject row.
func recentActivity(t *table, a activity, cutoff time.Time) predicate {
	recent := func(q *query, alias string) {
		col := ref(alias, a.col)
		q.sql(col, " IS NOT NULL AND ", col, " > ", q.bind(cutoff))
	}
	return func(q *query, alias string) {
		inner := q.alias()
		switch {
		case a.table == t:
			recent(q, alias)
			return
		case a.table.linksTo(t): // below the row: rows linked to it
			q.sql("EXISTS (SELECT 1 FROM ", a.table.cat.Quoted, " ", inner, " WHERE ")
			recent(q, inner)
			q.sql(" AND (")
			linkedToRow(a.table, t, alias)(q, inner)
		case t.linksTo(a.table): // above the row: the rows it links to
			q.sql("EXISTS (SELECT 1 FROM ", a.table.cat.Quoted, " ", inner, " WHERE ")
			recent(q, inner)
			q.sql(" AND (")
			linkedToRow(t, a.table, inner)(q, alias)
		default: // beside it: rows linked to the same subject row
			root, subject := t.root(), q.alias()
			q.sql("EXISTS (SELECT 1 FROM ", root.cat.Quoted, " ", subject, " WHERE (")
			linkedToRow(t, root, subject)(q, alias)
			q.sql(") AND EXISTS (SELECT 1 FROM ", a.table.cat.Quoted, " ", inner, " WHERE ")
			recent(q, inner)
			q.sql(" AND (")
			linkedToRow(a.table, root, subject)(q, inner)
			q.sql(")")
		}
		q.sql("))")
	}
}

// resolveActivity finds "table.column" among the DataMap tables linked to t's subject. Table names
// may contain dots, so every split point is tried.
func resolveActivity(s *schema, t *table, ruleName, a string, mm *mismatches) (activity, bool) {
	for i := strings.Index(a, "."); i >= 0; i = nextDot(a, i) {
		at, ok := s.byName[a[:i]]
		if !ok {
			continue
		}
		col, ok := at.cat.Column(a[i+1:])
		if !ok {
			mm.add(at.name(), a[i+1:], plan.ErrMissingColumn, "rule %q: activity column %q does not exist in table %q", ruleName, a[i+1:], at.name())
			return activity{}, false
		}
		if at.root() != t.root() {
			mm.add(at.name(), col.Name, plan.ErrInvalidPlan, "rule %q: activity table %q does not link to the same data subject as table %q", ruleName, at.name(), t.name())
			return activity{}, false
		}
		return activity{table: at, col: col}, isTime(col, at.name(), ruleName, mm)
	}
	mm.add(t.name(), "", plan.ErrUnknownIdentifier, "rule %q: activity %q is not \"table.column\" of a table in the DataMap", ruleName, a)
	return activity{}, false
}

func nextDot(s string, after int) int {
	i := strings.Index(s[after+1:], ".")
	if i < 0 {
		return -1
	}
	return after + 1 + i
}

// condition resolves a where condition; its value is converted to the column's kind in Go
// and bound as a parameter.
func condition(t *table, ruleName string, c plan.Condition, mm *mismatches) predicate {
	col, ok := lookup(t.cat, c.Column, fmt.Sprintf("rule %q condition", ruleName), mm)
	if !ok {
		return nil
	}
	bad := func(format string, args ...any) predicate {
		mm.add(t.name(), c.Column, plan.ErrInvalidPlan, "rule %q: condition on %q: %s", ruleName, c.Column, fmt.Sprintf(format, args...))
		return nil
	}
	switch c.Op {
	case plan.OpIsNull, plan.OpNotNull:
		if c.Value != "" || len(c.Values) > 0 {
			return bad("%s takes no value", c.Op)
		}
		sqlOp := map[string]string{plan.OpIsNull: " IS NULL", plan.OpNotNull: " IS NOT NULL"}[c.Op]
		return func(q *query, alias string) { q.sql(ref(alias, col), sqlOp) }
	case plan.OpIn:
		if len(c.Values) == 0 || c.Value != "" {
			return bad("in takes values (a list), not value")
		}
		values, err := convertAll(col, c.Values)
		if err != nil {
			return bad("%v", err)
		}
		return func(q *query, alias string) {
			q.sql(ref(alias, col), " IN (")
			for i, v := range values {
				q.sql(sep(i, ", "), q.bind(v))
			}
			q.sql(")")
		}
	case plan.OpEq, plan.OpNe, plan.OpLt, plan.OpGt:
		if len(c.Values) > 0 {
			return bad("%s takes value, not values", c.Op)
		}
		v, err := convert(col, c.Value)
		if err != nil {
			return bad("%v", err)
		}
		return comparison(col, c.Op, v)
	default:
		return bad("unknown operator %q (use eq, ne, in, isNull, notNull, lt, gt)", c.Op)
	}
}

// comparison writes col op value. ne is NULL-safe: a NULL differs from every value, which
// is what "alias_consent ne true" means to a reader.
func comparison(col *engine.Column, op string, v any) predicate {
	return func(q *query, alias string) {
		c := ref(alias, col)
		switch op {
		case plan.OpEq:
			q.sql(c, " = ", q.bind(v))
		case plan.OpLt:
			q.sql(c, " < ", q.bind(v))
		case plan.OpGt:
			q.sql(c, " > ", q.bind(v))
		case plan.OpNe:
			if q.eng.Dialect() == mask.MySQL {
				q.sql("NOT (", c, " <=> ", q.bind(v), ")")
			} else {
				q.sql(c, " IS DISTINCT FROM ", q.bind(v))
			}
		}
	}
}

func convertAll(col *engine.Column, values []string) ([]any, error) {
	out := make([]any, len(values))
	for i, s := range values {
		v, err := convert(col, s)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// convert turns a value written in a plan into the Go value of the column's kind, so the
// driver binds it with the right type (and a typo is an error, not a silent mismatch).
func convert(col *engine.Column, s string) (any, error) {
	if err := storable(s); err != nil {
		return nil, fmt.Errorf("the value %w", err)
	}
	switch col.Kind {
	case mask.KindInteger:
		// MySQL's BOOLEAN is TINYINT(1): true and false are its 1 and 0.
		switch strings.TrimSpace(s) {
		case "true":
			return int64(1), nil
		case "false":
			return int64(0), nil
		}
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not an integer (column type %s)", s, col.Type)
		}
		return n, nil
	case mask.KindDecimal:
		return decimalValue(col, s)
	case mask.KindDate, mask.KindTimestamp:
		return parseTime(s, col.Type)
	}
	return s, nil
}

func parseTime(s, typ string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, strings.TrimSpace(s)); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date or RFC 3339 timestamp (column type %s)", s, typ)
}
