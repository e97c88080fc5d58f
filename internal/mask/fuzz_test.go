package mask

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"
)

// FuzzMaskAgreement puts a fuzzed text into a column of a real PostgreSQL and MariaDB
// server, one agreement case at a time (every strategy on every text column type of
// TestSQLAgreesWithGo), and checks that the SQL form the worker runs gives what the Go
// form gives for the value as stored, and that the worker's "still needs masking" test
// agrees with the Go form about whether the value changes. A value a column cannot hold
// (NUL on PostgreSQL, too long, not UTF-8) is no agreement question: it is skipped.
func FuzzMaskAgreement(f *testing.F) {
	for _, v := range append(append(append([]any{}, textValues...), addressValues...), prefixValues...) {
		if s, ok := v.(string); ok {
			f.Add(s, uint16(0))
		}
	}
	f.Add("A\u0301", uint16(3))       // a combining accent
	f.Add("ǅ Ǆ ǆ ß ẞ İ ı", uint16(5)) // letters whose case folding differs
	f.Add("::FFFF:10.1.2.3", uint16(7))
	f.Add("١٢٣.١.١.١", uint16(9)) // Arabic-Indic digits
	cases := textAgreements()
	tables := &sync.Map{}
	f.Fuzz(func(t *testing.T, value string, which uint16) {
		a := cases[int(which)%len(cases)]
		for _, e := range engines {
			colType := a.pgType
			if e.dialect == MySQL {
				colType = a.myType
			}
			if colType == "" {
				continue
			}
			checkOneValue(t, e, tables, fmt.Sprintf("fuzz %d", int(which)%len(cases)), colType, a, value)
		}
	})
}

// textAgreements are the agreement cases on text columns, whose values a fuzzer can make.
func textAgreements() []agreement {
	var out []agreement
	for _, a := range agreements() {
		if a.col.Kind == KindText {
			out = append(out, a)
		}
	}
	return out
}

// checkOneValue stores value in the case's table (created once per engine) and compares
// the SQL form with the Go form on what was stored.
func checkOneValue(t *testing.T, e engine, tables *sync.Map, table, colType string, a agreement, value string) {
	t.Helper()
	if strings.HasPrefix(colType, "char(") || strings.HasPrefix(colType, "CHAR(") {
		if utf8.RuneCountInString(value) > 50 || strings.TrimRight(value, " ") != value {
			return // char(n) pads and strips: the agreement tests skip these values too
		}
	}
	masker, err := Compile(a.mask, a.col, a.key)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	tbl, pk, col := e.quote(table), e.quote(keyColumn), e.quote(maskedColumn)
	if _, ok := tables.Load(e.name + table); !ok {
		exec(t, e, "DROP TABLE IF EXISTS "+tbl)
		exec(t, e, fmt.Sprintf("CREATE TABLE %s (%s varchar(64) PRIMARY KEY, %s %s)", tbl, pk, col, colType))
		tables.Store(e.name+table, true)
	}
	exec(t, e, "DELETE FROM "+tbl)
	key := "1"
	insert := &binder{dialect: e.dialect}
	if _, err := e.db.Exec(fmt.Sprintf("INSERT INTO %s (%s, %s) VALUES (%s, %s)", tbl, pk, col, insert.bind(key), insert.bind(value)), insert.args...); err != nil {
		return // the column cannot hold the value
	}
	read := col
	if a.pgRead != "" && e.dialect == Postgres {
		read = fmt.Sprintf(a.pgRead, col)
	}
	stored := query(t, e, fmt.Sprintf("SELECT %s, %s FROM %s", pk, read, tbl))
	want, changed := goForm(t, masker, stored, a.zone)

	// One statement, as the worker's UPDATE: the masked value and whether the row still
	// needs it, with the placeholders in the order they were bound.
	sel := &binder{dialect: e.dialect}
	expr := sqlForm(t, masker, e.dialect, col, pk, sel)
	needs := ChangedSQL(e.dialect, col, sqlForm(t, masker, e.dialect, col, pk, sel))
	var masked, flag any
	stmt := fmt.Sprintf("SELECT %s, CASE WHEN %s THEN 1 ELSE 0 END FROM %s", expr, needs, tbl)
	if err := e.db.QueryRow(stmt, sel.args...).Scan(&masked, &flag); err != nil {
		t.Fatalf("%s\n%v", stmt, err)
	}
	compareRows(t, e.name+" "+a.name+" of "+fmt.Sprintf("%q", value), map[string]any{key: masked}, want)
	if n := normalize(flag); (n == "1" || n == `"1"`) != (changed == 1) {
		// A collation may call two strings equal that Go tells apart (case, trailing
		// spaces): ChangedSQL documents that, and such a value holds no personal data.
		if !collationEqual(e, a, stored[key], want[key]) {
			t.Errorf("%s %s of %q: the SQL says it still needs masking: %s, the Go form changes %d row(s)", e.name, a.name, value, n, changed)
		}
	}
}

// collationEqual says whether the stored value and its masked form differ only in ways the
// column's comparison ignores (MariaDB's PAD SPACE and case-insensitive collations, citext).
func collationEqual(e engine, a agreement, stored any, masked string) bool {
	s, ok := stored.(string)
	if b, isBytes := stored.([]byte); isBytes {
		s, ok = string(b), true
	}
	if !ok {
		return false
	}
	m, err := strconv.Unquote(masked) // normalize quoted it
	if err != nil {
		return false
	}
	ci := e.dialect == MySQL || strings.Contains(a.pgType, "citext")
	return ci && strings.EqualFold(strings.TrimRight(s, " "), strings.TrimRight(m, " "))
}
