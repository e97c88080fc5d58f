// Package mask implements Lethe's masking strategies. Each strategy has a Go form (Apply,
// for tests and exports) and an SQL form per engine (SQL, for set-based updates inside the
// database), and the two agree value for value.
package mask

import (
	"errors"

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
	KindDecimal
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
	// ForeignKey is true when the column references or is referenced by another table.
	ForeignKey bool
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

// Compile checks that m can mask col (wrapping ErrIncompatible with the reason when not)
// and returns the compiled strategy. key is the HMAC key for hash.
func Compile(m plan.Mask, col Column, key []byte) (Masker, error) {
	return nil, errors.New("mask: not implemented yet")
}
