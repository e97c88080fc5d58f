package mask

import (
	"fmt"
	"testing"

	"github.com/lethe-operator/lethe/internal/plan"
)

// TestChangedSQLInTheEngines evaluates ChangedSQL on pairs of current and masked values,
// NULLs included.
func TestChangedSQLInTheEngines(t *testing.T) {
	pairs := []struct {
		current, masked any
		changed         bool
		// mysqlChanged differs from changed where MySQL's collations compare loosely.
		mysqlChanged bool
	}{
		{nil, nil, false, false},
		{nil, "x", true, true},
		{"x", nil, true, true},
		{"x", "x", false, false},
		{"x", "y", true, true},
		{"x", "X", true, true},
		{"", nil, true, true},
		{"Zoë", "Zoë", false, false},
		// PAD SPACE: MariaDB ignores trailing spaces when comparing, as ChangedSQL documents.
		{"ab ", "ab", true, false},
	}
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			tbl, cur, masked := e.quote("changed pairs"), e.quote("current value"), e.quote("masked value")
			exec(t, e, "DROP TABLE IF EXISTS "+tbl)
			exec(t, e, fmt.Sprintf("CREATE TABLE %s (id int PRIMARY KEY, %s varchar(16), %s varchar(16))", tbl, cur, masked))
			t.Cleanup(func() { _, _ = e.db.Exec("DROP TABLE IF EXISTS " + tbl) })
			for i, p := range pairs {
				b := &binder{dialect: e.dialect}
				stmt := fmt.Sprintf("INSERT INTO %s VALUES (%s, %s, %s)", tbl, b.bind(i), b.bind(p.current), b.bind(p.masked))
				exec(t, e, stmt, b.args...)
			}
			rows, err := e.db.Query(fmt.Sprintf("SELECT id, CASE WHEN %s THEN 1 ELSE 0 END FROM %s ORDER BY id",
				ChangedSQL(e.dialect, cur, masked), tbl))
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			for rows.Next() {
				var id, changed int
				if err := rows.Scan(&id, &changed); err != nil {
					t.Fatal(err)
				}
				want := pairs[id].changed
				if e.dialect == MySQL {
					want = pairs[id].mysqlChanged
				}
				if (changed == 1) != want {
					t.Errorf("current %#v, masked %#v: changed = %v, want %v", pairs[id].current, pairs[id].masked, changed == 1, want)
				}
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestBucketOverflowFailsEverywhere: a bucket below the type's range is an error in Go
// and in SQL, never a wrapped-around number.
func TestBucketOverflowFailsEverywhere(t *testing.T) {
	m := compile(t, generalize(plan.GeneralizeBucket, 10), Column{Kind: KindInteger, Nullable: true}, nil)
	const lowest = int64(-9223372036854775808)
	if got, err := m.Apply(lowest, ""); err == nil {
		t.Errorf("Go form gave %v for the lowest bigint", got)
	}
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			tbl, col := e.quote("bucket overflow"), e.quote("n")
			exec(t, e, "DROP TABLE IF EXISTS "+tbl)
			exec(t, e, fmt.Sprintf("CREATE TABLE %s (%s bigint)", tbl, col))
			t.Cleanup(func() { _, _ = e.db.Exec("DROP TABLE IF EXISTS " + tbl) })
			exec(t, e, fmt.Sprintf("INSERT INTO %s VALUES (-9223372036854775807 - 1)", tbl))
			b := &binder{dialect: e.dialect}
			expr := sqlForm(t, m, e.dialect, col, "", b)
			if _, err := e.db.Exec(fmt.Sprintf("UPDATE %s SET %s = %s", tbl, col, expr), b.args...); err == nil {
				t.Error("UPDATE succeeded on a bucket out of range")
			}
		})
	}
}

// TestNetworkAgreesOnTheAddressCorpus runs the whole generated corpus of address-like
// text through both engines: the guard and the printed forms must match Go's.
func TestNetworkAgreesOnTheAddressCorpus(t *testing.T) {
	var corpus []any
	for _, s := range addressCorpus() {
		corpus = append(corpus, s)
	}
	for _, e := range engines {
		for _, width := range []int{0, 13} {
			t.Run(fmt.Sprintf("%s/%d", e.name, width), func(t *testing.T) {
				checkAgreement(t, e, "address corpus", "varchar(64)", agreement{
					mask: generalize(plan.GeneralizeNetwork, width), col: text, values: corpus,
				})
			})
		}
	}
}
