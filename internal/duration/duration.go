// Package duration parses ISO 8601 durations (P30D, P3M, P7Y, PT12H) and applies them with
// calendar arithmetic: years, months, weeks and days move the date the way a calendar does
// (time.AddDate), the time part moves the clock. The controllers and the worker share it so
// that "older than P3M" means the same instant everywhere.
package duration

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	iso "github.com/sosodev/duration"
)

// Duration is a parsed ISO 8601 duration, split into its calendar part (years, months,
// days) and its clock part.
type Duration struct {
	Years, Months, Days int
	// Clock is the hours, minutes and seconds (and any fraction of a day).
	Clock time.Duration
	text  string
}

// ErrInvalid wraps every reason a string is not a usable duration.
var ErrInvalid = errors.New("invalid ISO 8601 duration")

// Nominal lengths of the calendar units, for the bound only: a year of 365.25 days and a
// month of a twelfth of that. The admission rule of the CRDs' ISODuration type weighs the
// units the same way, so that the API server and the worker draw the line at one place.
const (
	nominalYear  = 31557600 * time.Second
	nominalMonth = nominalYear / 12
	nominalDay   = 24 * time.Hour
)

// Max is the longest duration Lethe accepts: 100 years. No retention period or legal hold
// is longer; a longer one is a typo (P99999Y) that would otherwise fail at every run.
const Max = 100 * nominalYear

// Parse parses an ISO 8601 duration such as P7Y, P3M, P2W, P30D or P1DT12H. Refused:
// negative durations, fractional years or months (a fraction of a month has no calendar
// meaning), zero (a rule "older than P0D" matches every row, a hold of P0D holds nothing)
// and anything longer than Max.
func Parse(s string) (Duration, error) {
	if !strings.ContainsAny(s, "0123456789") {
		return Duration{}, fmt.Errorf("%w %q: no number", ErrInvalid, s)
	}
	d, err := iso.Parse(s)
	if err != nil {
		return Duration{}, fmt.Errorf("%w %q: %v", ErrInvalid, s, err)
	}
	if d.Negative {
		return Duration{}, fmt.Errorf("%w %q: negative durations are not allowed", ErrInvalid, s)
	}
	if !whole(d.Years) || !whole(d.Months) {
		return Duration{}, fmt.Errorf("%w %q: years and months must be whole numbers", ErrInvalid, s)
	}
	days := d.Weeks*7 + d.Days
	wholeDays := math.Floor(days)
	clock := (days-wholeDays)*float64(24*time.Hour) +
		d.Hours*float64(time.Hour) + d.Minutes*float64(time.Minute) + d.Seconds*float64(time.Second)
	nominal := d.Years*float64(nominalYear) + d.Months*float64(nominalMonth) + wholeDays*float64(nominalDay) + clock
	if !(nominal <= float64(Max)) { // also NaN
		return Duration{}, fmt.Errorf("%w %q: longer than 100 years", ErrInvalid, s)
	}
	out := Duration{
		Years: int(d.Years), Months: int(d.Months), Days: int(wholeDays),
		Clock: time.Duration(math.Round(clock)), text: s,
	}
	if out.IsZero() {
		return Duration{}, fmt.Errorf("%w %q: a zero duration is refused (it would match every row): give an amount greater than zero", ErrInvalid, s)
	}
	return out, nil
}

func whole(f float64) bool { return f == math.Trunc(f) }

// AddTo returns t moved forward by d: calendar part first, then the clock part.
func (d Duration) AddTo(t time.Time) time.Time {
	return t.AddDate(d.Years, d.Months, d.Days).Add(d.Clock)
}

// SubtractFrom returns t moved back by d: the mirror of AddTo (clock part first, then the
// calendar part), so that a date older than SubtractFrom(now) is one whose AddTo is before now
// in all but month-end corner cases.
func (d Duration) SubtractFrom(t time.Time) time.Time {
	return t.Add(-d.Clock).AddDate(-d.Years, -d.Months, -d.Days)
}

// IsZero reports whether d is a zero duration.
func (d Duration) IsZero() bool {
	return d.Years == 0 && d.Months == 0 && d.Days == 0 && d.Clock == 0
}

// String returns the duration as it was written.
func (d Duration) String() string { return d.text }
