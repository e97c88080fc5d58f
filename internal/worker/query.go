package worker

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/lethe-operator/lethe/internal/engine"
	"github.com/lethe-operator/lethe/internal/mask"
	"github.com/lethe-operator/lethe/internal/plan"
)

// query builds one SQL statement left to right. Values only enter through bind, which
// appends a parameter at the point it is written (MySQL's ? placeholders are positional);
// identifiers only enter as catalog objects, already quoted by the engine.
type query struct {
	eng     engine.Engine
	b       strings.Builder
	args    []any
	aliases int
}

func newQuery(eng engine.Engine) *query { return &query{eng: eng} }

// sql appends SQL text written by Lethe (keywords, operators, quoted catalog names).
func (q *query) sql(parts ...string) *query {
	for _, p := range parts {
		q.b.WriteString(p)
	}
	return q
}

// bind adds a parameter and returns its placeholder.
func (q *query) bind(v any) string {
	q.args = append(q.args, v)
	return q.eng.Placeholder(len(q.args))
}

// alias returns a fresh table alias for a subquery.
func (q *query) alias() string {
	q.aliases++
	return "l" + strconv.Itoa(q.aliases)
}

func (q *query) String() string { return q.b.String() }

// ref is a column reference through a table alias.
func ref(alias string, c *engine.Column) string { return alias + "." + c.Quoted }

// predicate writes a boolean SQL expression about the row of a table under alias.
type predicate func(q *query, alias string)

// and writes the conjunction of the predicates (TRUE when there are none).
func and(preds ...predicate) predicate {
	return func(q *query, alias string) {
		n := 0
		for _, p := range preds {
			if p == nil {
				continue
			}
			if n > 0 {
				q.sql(" AND ")
			}
			q.sql("(")
			p(q, alias)
			q.sql(")")
			n++
		}
		if n == 0 {
			q.sql("1 = 1")
		}
	}
}

// or writes the disjunction of the predicates (none may be nil).
func or(preds ...predicate) predicate {
	return func(q *query, alias string) {
		for i, p := range preds {
			q.sql(sep(i, " OR "), "(")
			p(q, alias)
			q.sql(")")
		}
	}
}

// not writes the negation of p.
func not(p predicate) predicate {
	return func(q *query, alias string) {
		q.sql("NOT (")
		p(q, alias)
		q.sql(")")
	}
}

// columnsEqual writes a.c1 = b.r1 AND a.c2 = b.r2 ...
func columnsEqual(q *query, alias string, cols []*engine.Column, otherAlias string, others []*engine.Column) {
	for i := range cols {
		if i > 0 {
			q.sql(" AND ")
		}
		q.sql(ref(alias, cols[i]), " = ", ref(otherAlias, others[i]))
	}
}

// keyEquals is a predicate: the row's key columns equal the values.
func keyEquals(cols []*engine.Column, values []any) predicate {
	return func(q *query, alias string) {
		for i, c := range cols {
			if i > 0 {
				q.sql(" AND ")
			}
			q.sql(ref(alias, c), " = ", q.bind(values[i]))
		}
	}
}

// linkedTo is a predicate on rows of from: the row reaches the row of root whose primary
// key is key, through the chain of links. One EXISTS per step, so composite and
// multi-level links are plain joins on the linking columns, in either direction; a table
// whose subjectVia points straight at root's key compares its own columns with the key
// (an index lookup).
func linkedTo(from, root *table, key []any) predicate {
	return func(q *query, alias string) {
		switch {
		case from == root:
			keyEquals(root.pk, key)(q, alias)
		case from.parent == root && !from.up && slices.Equal(from.theirs, root.pk):
			keyEquals(from.mine, key)(q, alias)
		default:
			parent := q.alias()
			q.sql("EXISTS (SELECT 1 FROM ", from.parent.cat.Quoted, " ", parent, " WHERE ")
			columnsEqual(q, alias, from.mine, parent, from.theirs)
			q.sql(" AND (")
			linkedTo(from.parent, root, key)(q, parent)
			q.sql("))")
		}
	}
}

// keyIn is a predicate: the row's key columns equal one of the keys.
func keyIn(cols []*engine.Column, keys [][]any) predicate {
	if len(keys) == 1 {
		return keyEquals(cols, keys[0])
	}
	preds := make([]predicate, len(keys))
	for i, k := range keys {
		preds[i] = keyEquals(cols, k)
	}
	return or(preds...)
}

// linkedToRow is a predicate on rows of from (a table below ancestor): the row reaches the
// row of ancestor under outer. The last step compares with outer directly, so the
// statement never reads the table it changes (MySQL refuses that).
func linkedToRow(from, ancestor *table, outer string) predicate {
	return func(q *query, alias string) {
		if from.parent == ancestor {
			columnsEqual(q, alias, from.mine, outer, from.theirs)
			return
		}
		parent := q.alias()
		q.sql("EXISTS (SELECT 1 FROM ", from.parent.cat.Quoted, " ", parent, " WHERE ")
		columnsEqual(q, alias, from.mine, parent, from.theirs)
		q.sql(" AND (")
		linkedToRow(from.parent, ancestor, outer)(q, parent)
		q.sql("))")
	}
}

// survivors says which rows of a DataMap table will still exist once a delete has run
// through it: a predicate on its rows, or nil when all of them will.
type survivors func(c *table) predicate

// referenced is a predicate: some row of another table (or of the same one, through a
// self-reference) still points at this row, through a foreign key in the database or a
// DataMap link. Such a row is kept (and anonymized) instead of deleted, so a delete never
// breaks or cascades into them. With survives, only references from surviving rows of
// DataMap tables count (a preview, where the rows an erasure deletes first are still
// there).
func referenced(t *table, survives survivors) predicate {
	return referencedBy(t, t.incoming, survives)
}

// referencedBy is referenced through the given references only.
func referencedBy(t *table, refs []reference, survives survivors) predicate {
	if len(refs) == 0 {
		return nil
	}
	return func(q *query, alias string) {
		for i, l := range refs {
			q.sql(sep(i, " OR "))
			referencedThrough(l, survives)(q, alias)
		}
	}
}

// referencedThrough is a predicate: a row of l.from points at this row through l (and
// survives, when survives says which rows do).
func referencedThrough(l reference, survives survivors) predicate {
	return func(q *query, alias string) {
		child := q.alias()
		q.sql("EXISTS (SELECT 1 FROM ", l.from.Quoted, " ", child, " WHERE ")
		columnsEqual(q, child, l.cols, alias, l.refs)
		if l.mapped != nil && survives != nil {
			if p := survives(l.mapped); p != nil {
				q.sql(" AND (")
				p(q, child)
				q.sql(")")
			}
		}
		q.sql(")")
	}
}

// never is a predicate that holds for no row.
func never(q *query, _ string) { q.sql("1 = 0") }

// rowKey returns the SQL expression of the row's primary key as text: the key itself for
// one column; for several, each part prefixed with its length, so that no two keys give
// the same text (a separator alone could also occur inside a value).
func rowKey(eng engine.Engine, alias string, pk []*engine.Column) string {
	if len(pk) == 1 {
		return eng.TextExpr(ref(alias, pk[0]))
	}
	var parts []string
	for _, c := range pk {
		text := eng.TextExpr(ref(alias, c))
		parts = append(parts, eng.TextExpr("CHAR_LENGTH("+text+")"), "':'", text, "';'")
	}
	return eng.Concat(parts...)
}

// rowKeyText is the Go form of rowKey, for the masks' Apply.
func rowKeyText(values []string) string {
	if len(values) == 1 {
		return values[0]
	}
	var b strings.Builder
	for _, v := range values {
		fmt.Fprintf(&b, "%d:%s;", len([]rune(v)), v)
	}
	return b.String()
}

// maskedExpr writes nothing; it returns the SQL of c's masked value for the row under alias,
// binding the strategy's parameters into q at the point the caller writes the result.
func maskedExpr(q *query, t *table, c *maskedColumn, alias string) (string, error) {
	return c.masker.SQL(q.eng.Dialect(), ref(alias, c.col), rowKey(q.eng, alias, t.pk), q.bind)
}

// changed is a predicate: at least one of the columns differs from its masked value, so
// rows already masked are left alone and a second run changes nothing.
//
// The terms go cheapest strategy first: OR stops at the first true term, so on a row still
// to mask the database computes one cheap masked value twice rather than an expensive one.
func changed(t *table, cols []*maskedColumn, failed *error) predicate {
	ordered := slices.Clone(cols)
	slices.SortStableFunc(ordered, func(a, b *maskedColumn) int { return strategyCost[a.strategy] - strategyCost[b.strategy] })
	return func(q *query, alias string) {
		for i, c := range ordered {
			if i > 0 {
				q.sql(" OR ")
			}
			expr, err := maskedExpr(q, t, c, alias)
			if err != nil {
				*failed = err
				q.sql("FALSE")
				continue
			}
			q.sql(mask.ChangedSQL(q.eng.Dialect(), ref(alias, c.col), expr))
		}
	}
}

// strategyCost ranks strategies by the work their SQL form does per row.
var strategyCost = map[string]int{
	plan.StrategyNullify:    0,
	plan.StrategyRedact:     1,
	plan.StrategyGeneralize: 2,
	plan.StrategyHash:       3,
	plan.StrategyFakeEmail:  3,
}

// keysetAfter is a predicate: the row's primary key sorts after key. PostgreSQL compares
// row values with the index; MySQL/MariaDB get the expanded form their range optimizer
// understands.
func keysetAfter(pk []*engine.Column, key []any) predicate {
	return func(q *query, alias string) {
		if len(pk) == 1 {
			q.sql(ref(alias, pk[0]), " > ", q.bind(key[0]))
			return
		}
		if q.eng.Dialect() == mask.Postgres {
			q.sql("(")
			for i, c := range pk {
				q.sql(sep(i, ", "), ref(alias, c))
			}
			q.sql(") > (")
			for i := range pk {
				q.sql(sep(i, ", "), q.bind(key[i]))
			}
			q.sql(")")
			return
		}
		expandedCompare(q, alias, pk, key, " > ")
	}
}

// keysetUpTo is a predicate: the row's primary key sorts at or before key.
func keysetUpTo(pk []*engine.Column, key []any) predicate {
	return func(q *query, alias string) {
		if len(pk) == 1 {
			q.sql(ref(alias, pk[0]), " <= ", q.bind(key[0]))
			return
		}
		if q.eng.Dialect() == mask.Postgres {
			q.sql("(")
			for i, c := range pk {
				q.sql(sep(i, ", "), ref(alias, c))
			}
			q.sql(") <= (")
			for i := range pk {
				q.sql(sep(i, ", "), q.bind(key[i]))
			}
			q.sql(")")
			return
		}
		q.sql("NOT (")
		expandedCompare(q, alias, pk, key, " > ")
		q.sql(")")
	}
}

// expandedCompare writes (a op x) OR (a = x AND b op y) OR ... for a row comparison.
func expandedCompare(q *query, alias string, pk []*engine.Column, key []any, op string) {
	for i := range pk {
		q.sql(sep(i, " OR "), "(")
		for j := 0; j < i; j++ {
			q.sql(ref(alias, pk[j]), " = ", q.bind(key[j]), " AND ")
		}
		q.sql(ref(alias, pk[i]), op, q.bind(key[i]), ")")
	}
}

// orderBy writes the primary key as an ORDER BY list.
func orderBy(q *query, alias string, pk []*engine.Column) {
	q.sql(" ORDER BY ")
	for i, c := range pk {
		q.sql(sep(i, ", "), ref(alias, c))
	}
}

func sep(i int, s string) string {
	if i == 0 {
		return ""
	}
	return s
}
