package mask

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"

	"github.com/lethe-operator/lethe/internal/plan"
)

// HashPrefix starts every pseudonym hash writes.
const HashPrefix = "h:"

// HashLength is the length of a pseudonym: HashPrefix and 16 bytes of MAC in hex.
const HashLength = len(HashPrefix) + 2*hashBytes

const hashBytes = 16

// hashedPattern matches a value hash has already written, so a second run leaves it be.
const hashedPattern = `h:[0-9a-f]{32}`

var hashedGo = regexp.MustCompile(anchored(Postgres, hashedPattern))

// hash replaces a text value with HMAC-SHA256(key, value), truncated: the same input
// gives the same pseudonym in every run and every database, so joins survive.
type hash struct {
	changes
	key []byte
	// ipad and opad are the HMAC inner and outer key blocks, (K0 ⊕ 0x36…) and
	// (K0 ⊕ 0x5c…): the databases only have plain SHA-256 without an extension.
	ipad, opad []byte
}

func compileHash(_ plan.Mask, col Column, key []byte) (Masker, error) {
	switch {
	case col.Kind != KindText:
		return nil, incompatible("hash on non-text column")
	case col.MaxLength > 0 && col.MaxLength < HashLength:
		return nil, incompatible("hash needs %d characters, longer than varchar(%d)", HashLength, col.MaxLength)
	case len(key) == 0:
		return nil, ErrMissingKey
	}
	ipad, opad := hmacPads(key)
	return hash{key: append([]byte(nil), key...), ipad: ipad, opad: opad}, nil
}

// hmacPads derives the HMAC-SHA256 key blocks as RFC 2104 defines them.
func hmacPads(key []byte) (ipad, opad []byte) {
	block := make([]byte, sha256.BlockSize)
	if len(key) > sha256.BlockSize {
		sum := sha256.Sum256(key)
		key = sum[:]
	}
	copy(block, key)
	ipad = make([]byte, sha256.BlockSize)
	opad = make([]byte, sha256.BlockSize)
	for i, b := range block {
		ipad[i] = b ^ 0x36
		opad[i] = b ^ 0x5c
	}
	return ipad, opad
}

func (h hash) Apply(v any, _ string) (any, error) {
	s, ok, err := textOf(plan.StrategyHash, v)
	if !ok || err != nil {
		return nil, err
	}
	if hashedGo.MatchString(s) {
		return s, nil
	}
	mac := hmac.New(sha256.New, h.key)
	mac.Write([]byte(s))
	return HashPrefix + hex.EncodeToString(mac.Sum(nil)[:hashBytes]), nil
}

func (h hash) SQL(d Dialect, col, _ string, bind func(any) string) (string, error) {
	switch d {
	case Postgres:
		// HMAC = H(opad || H(ipad || m)), with the built-in sha256(bytea) (PostgreSQL 11+).
		t := pgText(col)
		return fmt.Sprintf("CASE WHEN %s ~ %s THEN %s ELSE %s || encode(substring("+
			"sha256(%s || sha256(%s || convert_to(%s, 'UTF8'))) FROM 1 FOR %s), 'hex') END",
			t, param(d, bind, anchored(d, hashedPattern), "text"), t,
			param(d, bind, HashPrefix, "text"),
			param(d, bind, h.opad, "bytea"), param(d, bind, h.ipad, "bytea"), t, param(d, bind, hashBytes, "int")), nil
	case MySQL:
		// SHA2 returns lowercase hex: UNHEX gives the inner digest's bytes back. A bound
		// []byte arrives as a string in the connection's character set: CAST AS BINARY
		// keeps CONCAT from converting the pads' bytes to the column's character set.
		return fmt.Sprintf("CASE WHEN %s REGEXP %s THEN %s ELSE CONCAT(%s, LEFT(SHA2(CONCAT(CAST(%s AS BINARY), "+
			"UNHEX(SHA2(CONCAT(CAST(%s AS BINARY), CONVERT(%s USING utf8mb4)), 256))), 256), %s)) END",
			col, bind(anchored(d, hashedPattern)), col, bind(HashPrefix),
			bind(h.opad), bind(h.ipad), col, bind(2*hashBytes)), nil
	}
	return "", checkDialect(d)
}
