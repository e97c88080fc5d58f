package duration

import (
	"errors"
	"testing"
	"time"
)

// FuzzParse: whatever the text, Parse returns a duration or ErrInvalid, never panics; a
// duration it returns is longer than zero and at most Max, and moves a date forward by
// AddTo and back by SubtractFrom (by at most Max and a day of calendar slack either way).
func FuzzParse(f *testing.F) {
	for _, s := range []string{"P7Y", "P3M", "P30D", "P2W", "PT12H", "P1DT1H30M", "P1.5D", "P100Y", "P0D", "PT0S",
		"P99999Y", "-P1D", "P1,5D", "PT0.000000001S", "P1Y2M3W4DT5H6M7.5S", "P", "PT", "P1e9D", "P9223372036854775807D"} {
		f.Add(s)
	}
	base := time.Date(2026, time.February, 28, 23, 30, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		d, err := Parse(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Parse(%q): %v is not ErrInvalid", s, err)
			}
			return
		}
		if d.IsZero() {
			t.Fatalf("Parse(%q) accepted a zero duration", s)
		}
		if d.String() != s {
			t.Fatalf("Parse(%q).String() = %q", s, d.String())
		}
		later, earlier := d.AddTo(base), d.SubtractFrom(base)
		slack := 48 * time.Hour // month ends and leap days move a calendar date by up to two days
		if !later.After(base) || later.Sub(base) > Max+slack {
			t.Fatalf("Parse(%q).AddTo(%v) = %v", s, base, later)
		}
		if !earlier.Before(base) || base.Sub(earlier) > Max+slack {
			t.Fatalf("Parse(%q).SubtractFrom(%v) = %v", s, base, earlier)
		}
	})
}
