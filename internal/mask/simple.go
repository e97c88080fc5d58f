package mask

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/lethe-operator/lethe/internal/plan"
)

// DefaultRedaction is the constant redact writes when the plan gives none.
const DefaultRedaction = "REDACTED"

// keep leaves the column as it is.
type keep struct{}

func (keep) Apply(v any, _ string) (any, error) { return v, nil }

func (keep) SQL(d Dialect, col, _ string, _ func(any) string) (string, error) {
	if err := checkDialect(d); err != nil {
		return "", err
	}
	return col, nil
}

func (keep) Keeps() bool { return true }

// nullify replaces every value with NULL.
type nullify struct{ changes }

func compileNullify(_ plan.Mask, col Column, _ []byte) (Masker, error) {
	if !col.Nullable {
		return nil, incompatible("nullify on NOT NULL column")
	}
	return nullify{}, nil
}

func (nullify) Apply(any, string) (any, error) { return nil, nil }

func (nullify) SQL(d Dialect, _, _ string, _ func(any) string) (string, error) {
	if err := checkDialect(d); err != nil {
		return "", err
	}
	return "NULL", nil
}

// redact replaces every value with a constant. NULL stays NULL: it holds no personal
// data, and writing the constant would make an absent value look present.
type redact struct {
	changes
	value string
}

func compileRedact(m plan.Mask, col Column, _ []byte) (Masker, error) {
	value := m.Value
	if value == "" {
		value = DefaultRedaction
	}
	switch {
	case col.Kind != KindText:
		return nil, incompatible("redact on non-text column")
	case col.Unique:
		return nil, incompatible("redact on UNIQUE column: every row would get the same value")
	case strings.ContainsRune(value, 0) || !utf8.ValidString(value):
		return nil, incompatible("redact constant with a NUL character or bytes that are not UTF-8: databases cannot store it")
	case col.MaxLength > 0 && utf8.RuneCountInString(value) > col.MaxLength:
		return nil, incompatible("redact constant of %d characters longer than varchar(%d)",
			utf8.RuneCountInString(value), col.MaxLength)
	}
	return redact{value: value}, nil
}

func (r redact) Apply(v any, _ string) (any, error) {
	if _, ok, err := textOf(plan.StrategyRedact, v); !ok || err != nil {
		return nil, err
	}
	return r.value, nil
}

func (r redact) SQL(d Dialect, col, _ string, bind func(any) string) (string, error) {
	if err := checkDialect(d); err != nil {
		return "", err
	}
	return fmt.Sprintf("CASE WHEN %s IS NULL THEN NULL ELSE %s END", col, param(d, bind, r.value, "text")), nil
}
