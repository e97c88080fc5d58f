// Package fingerprint computes the keyed fingerprint of a data subject's identifier: it
// tells requests for the same subject apart without revealing who the subject is, and
// without the key it cannot be reversed by hashing guesses.
package fingerprint

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"

	"github.com/lethe-operator/lethe/internal/identifier"
)

// Prefix names the algorithm in every fingerprint.
const Prefix = "hmac-sha256:"

// ErrEmptyKey is returned for a key too short to keep fingerprints from being guessed.
var ErrEmptyKey = errors.New("the fingerprint key must be at least 16 bytes")

// ErrEmptyIdentifier is returned for an identifier that is blank once normalised.
var ErrEmptyIdentifier = errors.New("the identifier is empty")

// Compute returns "hmac-sha256:" and the hex HMAC-SHA256 of the identifier under key,
// normalised as the databases compare it (norm, from identifier.For), so that
// "Anna@Example.org " and "anna@example.org" fingerprint the same when e-mail addresses
// are compared without case. The identity type is part of the message, so the same
// string as an e-mail and as a phone number gives two fingerprints.
func Compute(key []byte, identityType string, value []byte, norm identifier.Normalization) (string, error) {
	if len(key) < 16 {
		return "", ErrEmptyKey
	}
	// Surrounding white space is how a Secret file carries a value, not part of it.
	v := norm.Apply(strings.TrimSpace(string(value)))
	if v == "" {
		return "", ErrEmptyIdentifier
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(identityType))
	mac.Write([]byte{0})
	mac.Write([]byte(v))
	return Prefix + hex.EncodeToString(mac.Sum(nil)), nil
}
