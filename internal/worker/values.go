package worker

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/lethe-operator/lethe/internal/engine"
)

// errNotStorable: a value from the plan or a subject's Secret that no database can store
// or compare. PostgreSQL's text cannot hold NUL and both engines refuse bytes that are not
// UTF-8 mid-statement ("SQLSTATE 22021"); the worker refuses them before any SQL runs.
var errNotStorable = errors.New("contains a NUL character or bytes that are not UTF-8, which databases cannot store or compare")

// storable checks a text value before it is bound.
func storable(s string) error {
	if strings.ContainsRune(s, 0) || !utf8.ValidString(s) {
		return errNotStorable
	}
	return nil
}

// plainDecimal is a number as a DECIMAL column compares it: no exponent, at most 65 digits
// (MySQL's DECIMAL precision). "1e999999" is a number to Go, and an overflow error to
// PostgreSQL in the middle of a run.
var plainDecimal = regexp.MustCompile(`^[+-]?([0-9]{1,65}(\.[0-9]{0,30})?|\.[0-9]{1,30})$`)

// decimalValue checks a value for a decimal column; it is bound as text, which both
// engines convert exactly.
func decimalValue(col *engine.Column, s string) (any, error) {
	v := strings.TrimSpace(s)
	if !plainDecimal.MatchString(v) {
		return nil, fmt.Errorf("%q is not a number in plain notation of at most 65 digits, 30 after the point (column type %s)", s, col.Type)
	}
	return v, nil
}
