package mask

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/lethe-operator/lethe/internal/plan"
)

// FakeEmailDomain is the domain of every address fakeEmail writes: .invalid is reserved
// (RFC 2606), so no mail can ever reach a real mailbox.
const FakeEmailDomain = "anonymized.invalid"

// Parts of a fake address: "anon-" + 16 hex characters + "@" + FakeEmailDomain.
const (
	fakeEmailLocal  = "anon-"
	fakeEmailDomain = "@" + FakeEmailDomain
	fakeEmailHex    = 16
)

// FakeEmailLength is the length of every address fakeEmail writes.
const FakeEmailLength = len(fakeEmailLocal) + fakeEmailHex + len(fakeEmailDomain)

// fakeEmail replaces an address with one derived from the row's primary key: unique
// when the key is, and the same on every run, so it is idempotent.
type fakeEmail struct{ changes }

func compileFakeEmail(_ plan.Mask, col Column, _ []byte) (Masker, error) {
	switch {
	case col.Kind != KindText:
		return nil, incompatible("fakeEmail on non-text column")
	case col.MaxLength > 0 && col.MaxLength < FakeEmailLength:
		return nil, incompatible("fakeEmail needs %d characters, longer than varchar(%d)", FakeEmailLength, col.MaxLength)
	}
	return fakeEmail{}, nil
}

func (fakeEmail) Apply(v any, rowKey string) (any, error) {
	if _, ok, err := textOf(plan.StrategyFakeEmail, v); !ok || err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(rowKey))
	return fakeEmailLocal + hex.EncodeToString(sum[:])[:fakeEmailHex] + fakeEmailDomain, nil
}

func (fakeEmail) SQL(d Dialect, col, rowKey string, bind func(any) string) (string, error) {
	switch d {
	case Postgres:
		return fmt.Sprintf("CASE WHEN %s IS NULL THEN NULL ELSE %s || left(encode(sha256(convert_to((%s)::text, 'UTF8')), 'hex'), %s) || %s END",
			col, param(d, bind, fakeEmailLocal, "text"), rowKey, param(d, bind, fakeEmailHex, "int"), param(d, bind, fakeEmailDomain, "text")), nil
	case MySQL:
		return fmt.Sprintf("CASE WHEN %s IS NULL THEN NULL ELSE CONCAT(%s, LEFT(SHA2(CONVERT(%s USING utf8mb4), 256), %s), %s) END",
			col, bind(fakeEmailLocal), rowKey, bind(fakeEmailHex), bind(fakeEmailDomain)), nil
	}
	return "", checkDialect(d)
}
