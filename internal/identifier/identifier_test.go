package identifier

import "testing"

func TestForAndApply(t *testing.T) {
	tests := []struct {
		name, typ  string
		configured []string
		in, want   string
		steps      string
	}{
		{"e-mail by default: trimmed, lower case", "email", nil, "  John.X@Example.COM ", "john.x@example.com", "trim, lowercase"},
		{"other types exact by default", "customerId", nil, " AB-12", " AB-12", "exact"},
		{"digits for phone numbers", "phone", []string{"digits"}, "+45 12-34 (56)", "45123456", "digits"},
		{"steps run in a fixed order", "handle", []string{"lowercase", "trim"}, " Ann ", "ann", "trim, lowercase"},
		{"exact turns the e-mail default off", "email", []string{"exact"}, "John@X", "John@X", "exact"},
		{"non-ASCII letters are lowered too", "email", nil, "JÖRG@example.org", "jörg@example.org", "trim, lowercase"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := For(tt.typ, tt.configured)
			if err != nil {
				t.Fatal(err)
			}
			if got := n.Apply(tt.in); got != tt.want {
				t.Errorf("Apply(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if n.String() != tt.steps {
				t.Errorf("steps %q, want %q", n.String(), tt.steps)
			}
		})
	}
}

func TestForRefusesBadSteps(t *testing.T) {
	for _, configured := range [][]string{{}, {"exact", "trim"}, {"soundex"}} {
		if _, err := For("phone", configured); err == nil {
			t.Errorf("For(%q) accepted it", configured)
		}
	}
}
