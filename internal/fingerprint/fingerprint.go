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
)

// Prefix names the algorithm in every fingerprint.
const Prefix = "hmac-sha256:"

// ErrEmptyKey is returned for a key too short to keep fingerprints from being guessed.
var ErrEmptyKey = errors.New("the fingerprint key must be at least 16 bytes")

// ErrEmptyIdentifier is returned for an identifier that is blank once normalised.
var ErrEmptyIdentifier = errors.New("the identifier is empty")

// Normalize returns the identifier as the databases are expected to compare it: without
// surrounding white space and, for e-mail addresses, in lower case, so that
// "Anna@Example.org " and "anna@example.org" fingerprint the same.
func Normalize(identityType, identifier string) string {
	v := strings.TrimSpace(identifier)
	if identityType == "email" {
		v = strings.ToLower(v)
	}
	return v
}

// Compute returns "hmac-sha256:" and the hex HMAC-SHA256 of the normalised identifier
// under key. The identity type is part of the message, so the same string as an e-mail
// and as a phone number gives two fingerprints.
func Compute(key []byte, identityType string, identifier []byte) (string, error) {
	if len(key) < 16 {
		return "", ErrEmptyKey
	}
	v := Normalize(identityType, string(identifier))
	if v == "" {
		return "", ErrEmptyIdentifier
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(identityType))
	mac.Write([]byte{0})
	mac.Write([]byte(v))
	return Prefix + hex.EncodeToString(mac.Sum(nil)), nil
}
