package duration

import (
	"errors"
	"testing"
	"time"
)

func TestParseAndApplyWithCalendarArithmetic(t *testing.T) {
	base := time.Date(2024, time.February, 29, 10, 30, 0, 0, time.UTC)
	tests := []struct {
		in      string
		added   time.Time
		subtrac time.Time
	}{
		{"P7Y", time.Date(2031, time.March, 1, 10, 30, 0, 0, time.UTC), time.Date(2017, time.March, 1, 10, 30, 0, 0, time.UTC)},
		{"P1Y", time.Date(2025, time.March, 1, 10, 30, 0, 0, time.UTC), time.Date(2023, time.March, 1, 10, 30, 0, 0, time.UTC)},
		{"P3M", time.Date(2024, time.May, 29, 10, 30, 0, 0, time.UTC), time.Date(2023, time.November, 29, 10, 30, 0, 0, time.UTC)},
		{"P30D", time.Date(2024, time.March, 30, 10, 30, 0, 0, time.UTC), time.Date(2024, time.January, 30, 10, 30, 0, 0, time.UTC)},
		{"P2W", time.Date(2024, time.March, 14, 10, 30, 0, 0, time.UTC), time.Date(2024, time.February, 15, 10, 30, 0, 0, time.UTC)},
		{"PT12H", time.Date(2024, time.February, 29, 22, 30, 0, 0, time.UTC), time.Date(2024, time.February, 28, 22, 30, 0, 0, time.UTC)},
		{"P1DT1H30M", time.Date(2024, time.March, 1, 12, 0, 0, 0, time.UTC), time.Date(2024, time.February, 28, 9, 0, 0, 0, time.UTC)},
		{"P1.5D", time.Date(2024, time.March, 1, 22, 30, 0, 0, time.UTC), time.Date(2024, time.February, 27, 22, 30, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			d, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if got := d.AddTo(base); !got.Equal(tt.added) {
				t.Errorf("AddTo = %v, want %v", got, tt.added)
			}
			if got := d.SubtractFrom(base); !got.Equal(tt.subtrac) {
				t.Errorf("SubtractFrom = %v, want %v", got, tt.subtrac)
			}
			if d.String() != tt.in {
				t.Errorf("String = %q, want %q", d.String(), tt.in)
			}
		})
	}
}

func TestParseRefusesWhatHasNoCalendarMeaning(t *testing.T) {
	for _, in := range []string{"", "7Y", "P", "P1.5Y", "P0.5M", "-P1D", "P1X", "30 days", "PT", "P99999999Y",
		"P0D", "PT0S", "P0Y0M", "P0W", "PT0H0M0S", "P00D", "PT0.0000000001S", "P99999Y", "P101Y", "P100Y1D", "P1201M", "P5219W", "P36526D", "PT876601H"} {
		t.Run(in, func(t *testing.T) {
			if _, err := Parse(in); !errors.Is(err, ErrInvalid) {
				t.Fatalf("Parse(%q) = %v, want ErrInvalid", in, err)
			}
		})
	}
}

// TestParseAcceptsUpToAHundredYears checks the bound from both sides, in every unit: the
// CRDs' admission rule draws the same line (a year of 365.25 days, a month of 1/12 year).
func TestParseAcceptsUpToAHundredYears(t *testing.T) {
	for _, in := range []string{"P100Y", "P1200M", "P5217W", "P36525D", "PT876600H", "P99Y12M", "P1Y", "PT1S"} {
		if _, err := Parse(in); err != nil {
			t.Errorf("Parse(%q): %v", in, err)
		}
	}
}

func TestIsZero(t *testing.T) {
	day, _ := Parse("P1D")
	if day.IsZero() || !(Duration{}).IsZero() {
		t.Fatalf("IsZero: P1D=%v zero value=%v", day.IsZero(), (Duration{}).IsZero())
	}
}
