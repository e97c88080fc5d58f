// Package mask implements Lethe's masking strategies. Each strategy has a Go form (Apply,
// for tests and exports) and an SQL form per engine (SQL, for set-based updates inside the
// database), and the two agree value for value.
//
// Every value reaches the SQL as a bind parameter; the SQL text holds only the caller's
// quoted identifiers and fixed function selectors ('UTF8', 'hex', 'year', 256). The tests
// check the agreement on PostgreSQL 15 and MariaDB 10.11 (MySQL 8, whose regular
// expressions are ICU rather than PCRE, is not tested). Where the forms differ, it is
// on purpose and said here:
//   - Timestamps are generalized in the time.Time's Location in Go and in the session
//     time zone in SQL: give Apply values in the session's zone (only timestamptz cares).
//   - PostgreSQL char(n) is masked as its text without the pad, as PostgreSQL compares
//     it: give Apply the unpadded value (what (col)::text returns).
//   - On a PostgreSQL cidr column, generalize to network stores a full-length cidr,
//     printed with "/32" or "/128"; Apply gives the bare address (as for inet).
package mask

import (
	"errors"
	"fmt"

	"github.com/lethe-operator/lethe/internal/plan"
)

// Dialect selects the SQL form of a strategy.
type Dialect string

// SQL dialects.
const (
	Postgres Dialect = "postgres"
	MySQL    Dialect = "mysql" // MySQL and MariaDB
)

// ValueKind is the kind of value a column holds, derived from its introspected type.
type ValueKind int

// Value kinds.
const (
	KindOther ValueKind = iota
	KindText
	KindInteger
	KindDecimal // exact numeric/decimal; floating-point columns are KindOther
	KindDate
	KindTimestamp
	KindInet // PostgreSQL inet/cidr; IP addresses in text columns are KindText
)

// Column is what a strategy needs to know about the column it masks.
type Column struct {
	Kind     ValueKind
	Nullable bool
	Unique   bool // part of a unique constraint or primary key
	// MaxLength is the character limit of a text column (0: unlimited or unknown).
	MaxLength int
	// References is true when the column is part of a foreign key to another table (or
	// to its own table: a self-reference such as reports_to).
	References bool
	// Referenced is true when a foreign key of some table points at the column.
	Referenced bool
}

// ErrIncompatible wraps every reason a strategy cannot be used on a column.
var ErrIncompatible = errors.New("incompatible masking strategy")

// Masker is a strategy compiled for one column.
type Masker interface {
	// Apply is the Go form: the masked value of v. rowKey identifies the row (its primary
	// key as text) for strategies that must be unique per row.
	Apply(v any, rowKey string) (any, error)
	// SQL is the SQL form: an expression computing the masked value of the quoted column
	// reference col; rowKey is an SQL expression for the row's primary key as text; bind
	// adds a parameter and returns its placeholder.
	SQL(d Dialect, col, rowKey string, bind func(any) string) (string, error)
	// Keeps is true for keep: the column is left as it is.
	Keeps() bool
}

// ErrMissingKey is returned by Compile for hash when no HMAC key was given: a
// configuration error, not an incompatibility with the column.
var ErrMissingKey = errors.New("hash needs an HMAC key (plan options.hashKeyFile)")

// Compile checks that m can mask col (wrapping ErrIncompatible with the reason when not)
// and returns the compiled strategy. key is the HMAC key for hash.
func Compile(m plan.Mask, col Column, key []byte) (Masker, error) {
	if m.Strategy == plan.StrategyKeep {
		return keep{}, nil
	}
	compile, ok := compilers[m.Strategy]
	if !ok {
		return nil, incompatible("unknown strategy %q", m.Strategy)
	}
	// A changed key leaves the rows pointing at it dangling; a referencing column changed
	// to anything but NULL points at a row that does not exist. NULL on a nullable
	// referencing column only drops the reference, which is what nullify means.
	if col.Referenced {
		return nil, incompatible("%s on a column other rows reference would break their reference", m.Strategy)
	}
	if col.References && m.Strategy != plan.StrategyNullify {
		return nil, incompatible("%s on a foreign-key column would point it at a row that does not exist (nullify a nullable one instead)", m.Strategy)
	}
	return compile(m, col, key)
}

var compilers = map[string]func(plan.Mask, Column, []byte) (Masker, error){
	plan.StrategyNullify:    compileNullify,
	plan.StrategyRedact:     compileRedact,
	plan.StrategyHash:       compileHash,
	plan.StrategyFakeEmail:  compileFakeEmail,
	plan.StrategyGeneralize: compileGeneralize,
}

// ChangedSQL returns an SQL predicate that is true when the quoted column col differs
// from maskedExpr (an expression from Masker.SQL), treating NULL as a value. The worker
// updates only those rows, so a second run of a plan finds nothing left to change.
//
// Strings compare as the column's type compares them: on MySQL/MariaDB a value that
// differs from its masked form only in trailing spaces (PAD SPACE collations) or letter
// case (case-insensitive collations), or on PostgreSQL only in case (citext), counts as
// unchanged. Such a difference holds no personal data.
func ChangedSQL(d Dialect, col, maskedExpr string) string {
	if d == MySQL {
		return fmt.Sprintf("NOT (%s <=> (%s))", col, maskedExpr)
	}
	// IS DISTINCT FROM is standard SQL: the form for PostgreSQL and any other dialect.
	return fmt.Sprintf("%s IS DISTINCT FROM (%s)", col, maskedExpr)
}

func incompatible(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrIncompatible, fmt.Sprintf(format, args...))
}
