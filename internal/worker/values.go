package worker

import (
	"errors"
	"strings"
	"unicode/utf8"
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
