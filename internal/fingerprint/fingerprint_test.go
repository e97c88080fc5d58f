package fingerprint

import (
	"strings"
	"testing"

	"github.com/lethe-operator/lethe/internal/identifier"
)

func TestCompute(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	base, err := Compute(key, "email", []byte("anna@example.org"), identifier.Default("email"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(base, Prefix) || len(base) != len(Prefix)+64 {
		t.Fatalf("fingerprint %q: want %s and 64 hex digits", base, Prefix)
	}
	tests := []struct {
		name       string
		key        []byte
		typ, value string
		same       bool
		err        error
		norm       []string
	}{
		{"case and space of an e-mail do not matter", key, "email", "  Anna@Example.ORG\n", true, nil, nil},
		{"another address differs", key, "email", "anne@example.org", false, nil, nil},
		{"another type differs", key, "phone", "anna@example.org", false, nil, nil},
		{"case matters outside e-mail", key, "customerId", "ANNA@example.org", false, nil, nil},
		{"another key differs", []byte("fedcba9876543210fedcba9876543210"), "email", "anna@example.org", false, nil, nil},
		{"short key refused", []byte("short"), "email", "anna@example.org", false, ErrEmptyKey, nil},
		{"blank identifier refused", key, "email", " \t", false, ErrEmptyIdentifier, nil},
		{"exact e-mail keeps the case", key, "email", "Anna@example.org", false, nil, []string{identifier.Exact}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			norm, nerr := identifier.For(tt.typ, tt.norm)
			if nerr != nil {
				t.Fatal(nerr)
			}
			got, err := Compute(tt.key, tt.typ, []byte(tt.value), norm)
			if err != tt.err {
				t.Fatalf("error %v, want %v", err, tt.err)
			}
			if err == nil && (got == base) != tt.same {
				t.Fatalf("fingerprint %q vs %q: same=%v, want %v", got, base, got == base, tt.same)
			}
			if strings.Contains(got, "anna") {
				t.Fatalf("fingerprint %q contains the identifier", got)
			}
		})
	}
}
