package mask

import (
	"fmt"
	"time"

	"github.com/lethe-operator/lethe/internal/plan"
)

// Every generalization maps many values to one, so f(f(x)) == f(x): a second run
// changes nothing without any guard.

func compileGeneralize(m plan.Mask, col Column, _ []byte) (Masker, error) {
	compile, ok := generalizers[m.To]
	if !ok {
		return nil, incompatible("generalize to unknown target %q (want year, month, bucket, network or prefix)", m.To)
	}
	masker, err := compile(m, col)
	if err != nil {
		return nil, err
	}
	// Checked after the kind, so a wrong kind is reported as such.
	if col.Unique {
		return nil, incompatible("generalize to %s on UNIQUE column: generalized values would collide", m.To)
	}
	return masker, nil
}

var generalizers = map[string]func(plan.Mask, Column) (Masker, error){
	plan.GeneralizeYear:    compileTruncDate,
	plan.GeneralizeMonth:   compileTruncDate,
	plan.GeneralizeBucket:  compileBucket,
	plan.GeneralizeNetwork: compileNetwork,
	plan.GeneralizePrefix:  compilePrefix,
}

// truncDate generalizes a date or timestamp to the first instant of its year or month.
// Timestamps are truncated in the value's own time zone: in Go the time.Time's
// Location, in SQL the session time zone (which matters only for PostgreSQL timestamptz).
type truncDate struct {
	changes
	unit      string // plan.GeneralizeYear or plan.GeneralizeMonth
	timestamp bool
}

func compileTruncDate(m plan.Mask, col Column) (Masker, error) {
	if col.Kind != KindDate && col.Kind != KindTimestamp {
		return nil, incompatible("generalize to %s on non-date column", m.To)
	}
	return truncDate{unit: m.To, timestamp: col.Kind == KindTimestamp}, nil
}

func (g truncDate) Apply(v any, _ string) (any, error) {
	switch t := v.(type) {
	case nil:
		return nil, nil
	case time.Time:
		month := time.January
		if g.unit == plan.GeneralizeMonth {
			month = t.Month()
		}
		return time.Date(t.Year(), month, 1, 0, 0, 0, 0, t.Location()), nil
	default:
		return nil, fmt.Errorf("mask: generalize to %s needs a date or timestamp, got %T", g.unit, v)
	}
}

func (g truncDate) SQL(d Dialect, col, _ string, _ func(any) string) (string, error) {
	// The unit is a fixed function selector chosen here, never text from the plan.
	unit := "year"
	mysqlDay := "DAYOFYEAR"
	if g.unit == plan.GeneralizeMonth {
		unit, mysqlDay = "month", "DAYOFMONTH"
	}
	switch {
	case d == Postgres && g.timestamp:
		return fmt.Sprintf("date_trunc('%s', %s)", unit, col), nil
	case d == Postgres:
		// date_trunc has no date form; via timestamp (not timestamptz) no zone shifts it.
		return fmt.Sprintf("date_trunc('%s', (%s)::timestamp)::date", unit, col), nil
	case d == MySQL && g.timestamp:
		return fmt.Sprintf("CAST(CAST(%s AS DATE) - INTERVAL (%s(%s) - 1) DAY AS DATETIME)", col, mysqlDay, col), nil
	case d == MySQL:
		// Day arithmetic rather than MAKEDATE, which reads years below 70 as 20xx.
		return fmt.Sprintf("%s - INTERVAL (%s(%s) - 1) DAY", col, mysqlDay, col), nil
	}
	return "", checkDialect(d)
}

// prefix generalizes text to its first width characters (Unicode code points, as both
// engines count them), e.g. a postcode to its district.
type prefix struct {
	changes
	width int
}

func compilePrefix(m plan.Mask, col Column) (Masker, error) {
	switch {
	case col.Kind != KindText:
		return nil, incompatible("generalize to prefix on non-text column")
	case m.Width <= 0:
		return nil, incompatible("generalize to prefix needs a width > 0")
	}
	return prefix{width: m.Width}, nil
}

func (p prefix) Apply(v any, _ string) (any, error) {
	s, ok, err := textOf("generalize to prefix", v)
	if !ok || err != nil {
		return nil, err
	}
	n := 0
	for i := range s {
		if n == p.width {
			return s[:i], nil
		}
		n++
	}
	return s, nil
}

func (p prefix) SQL(d Dialect, col, _ string, bind func(any) string) (string, error) {
	if err := checkDialect(d); err != nil {
		return "", err
	}
	if d == Postgres {
		col = pgText(col)
	}
	return fmt.Sprintf("left(%s, %s)", col, param(d, bind, p.width, "int")), nil
}
