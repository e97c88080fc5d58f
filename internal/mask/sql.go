package mask

import (
	"fmt"
)

// param binds v and returns its placeholder. On PostgreSQL it adds the cast pgType,
// because a bare parameter inside an expression often has no type the planner can infer.
func param(d Dialect, bind func(any) string, v any, pgType string) string {
	p := bind(v)
	if d == Postgres {
		return p + "::" + pgType
	}
	return p
}

func checkDialect(d Dialect) error {
	if d != Postgres && d != MySQL {
		return fmt.Errorf("mask: unknown SQL dialect %q", d)
	}
	return nil
}

// anchored wraps a regular expression body so that it must match a whole value. The
// same body is used by Go (RE2), PostgreSQL (ARE) and MySQL/MariaDB (PCRE), which
// differ in their anchors: PCRE's $ also matches before a final newline, so MySQL gets
// \z, and (?-i) keeps the match case-sensitive under case-insensitive collations.
func anchored(d Dialect, body string) string {
	if d == MySQL {
		return `(?-i)^(?:` + body + `)\z`
	}
	return `^(?:` + body + `)$`
}

// pgText is col as text on PostgreSQL. Regular expressions then match case-sensitively
// (citext overloads ~ to ignore case) and char(n) loses its pad, as PostgreSQL compares it.
func pgText(col string) string { return "(" + col + ")::text" }

// textOf returns v as text; ok is false for NULL.
func textOf(strategy string, v any) (s string, ok bool, err error) {
	switch t := v.(type) {
	case nil:
		return "", false, nil
	case string:
		return t, true, nil
	case []byte:
		return string(t), true, nil
	default:
		return "", false, fmt.Errorf("mask: %s needs a text value, got %T", strategy, v)
	}
}

// changes is embedded by every strategy except keep.
type changes struct{}

// Keeps reports that the strategy changes the column.
func (changes) Keeps() bool { return false }
