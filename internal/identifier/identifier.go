// Package identifier says how a data subject's identifier is compared with the values in
// a database: the normalisation of each identity type (e-mail addresses trimmed and in
// lower case, other types exact unless a DataMap says otherwise). The fingerprint, the
// worker's lookup and its post-erasure check all normalise through this package, so the
// three never disagree; the SQL form of each step is the engine's (internal/engine).
package identifier

import (
	"fmt"
	"slices"
	"strings"
)

// Normalisation steps, as a DataMap names them.
const (
	// Trim ignores leading and trailing spaces.
	Trim = "trim"
	// Lowercase ignores letter case.
	Lowercase = "lowercase"
	// Digits ignores everything but the digits 0-9 (phone numbers).
	Digits = "digits"
	// Exact compares the identifier as it is; it stands alone.
	Exact = "exact"
)

// EmailType is the identity type whose default normalisation is not exact.
const EmailType = "email"

// Normalization is the steps an identity type's identifiers go through before they are
// compared, in the fixed order trim, lowercase, digits (so that the SQL expression is
// always the same and an expression index can match it). Empty means exact.
type Normalization []string

// order is the order steps are applied in, whatever order a DataMap lists them in.
var order = []string{Trim, Lowercase, Digits}

// For returns the normalisation of identityType: configured (a DataMap's list) when
// given, else the type's default. It refuses unknown steps and exact beside others.
func For(identityType string, configured []string) (Normalization, error) {
	if configured == nil {
		return Default(identityType), nil
	}
	if len(configured) == 0 {
		return nil, fmt.Errorf("identity type %q: normalize lists no step (use exact for none)", identityType)
	}
	if slices.Contains(configured, Exact) {
		if len(configured) > 1 {
			return nil, fmt.Errorf("identity type %q: exact means no normalisation and stands alone", identityType)
		}
		return Normalization{}, nil
	}
	var n Normalization
	for _, step := range order {
		if slices.Contains(configured, step) {
			n = append(n, step)
		}
	}
	for _, step := range configured {
		if !slices.Contains(order, step) {
			return nil, fmt.Errorf("identity type %q: unknown normalisation step %q (use trim, lowercase, digits or exact)", identityType, step)
		}
	}
	return n, nil
}

// Default is the normalisation of an identity type no DataMap configures: e-mail
// addresses are compared trimmed and without letter case (mail systems treat the domain,
// and in practice the local part, case-insensitively); other types exactly.
func Default(identityType string) Normalization {
	if identityType == EmailType {
		return Normalization{Trim, Lowercase}
	}
	return Normalization{}
}

// Apply returns v normalised, as Normalize in internal/engine does in SQL. Callers drop
// the surrounding white space of a value read from a Secret first (a trailing newline is
// how files carry it), whatever the normalisation.
func (n Normalization) Apply(v string) string {
	for _, step := range n {
		switch step {
		case Trim:
			v = strings.Trim(v, " ")
		case Lowercase:
			v = strings.ToLower(v)
		case Digits:
			v = strings.Map(func(r rune) rune {
				if r >= '0' && r <= '9' {
					return r
				}
				return -1
			}, v)
		}
	}
	return v
}

// Exact reports whether the normalisation leaves identifiers as they are.
func (n Normalization) Exact() bool { return len(n) == 0 }

// String names the steps, e.g. "trim, lowercase" or "exact".
func (n Normalization) String() string {
	if n.Exact() {
		return Exact
	}
	return strings.Join(n, ", ")
}

// Equal reports whether two normalisations compare identifiers the same way.
func (n Normalization) Equal(o Normalization) bool { return slices.Equal(n, o) }
