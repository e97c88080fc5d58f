package schedule

import (
	"testing"
	"time"
)

// FuzzParse: whatever the schedule and zone, Parse returns a schedule or an error and
// never panics; a schedule it returns fires (its next tick is after now and within the
// five years cron searches), and LatestTick over a long outage ends, with a tick in range.
func FuzzParse(f *testing.F) {
	for _, c := range [][2]string{
		{"0 3 * * *", "Europe/Copenhagen"}, {"@daily", "UTC"}, {"0 3 30 2 *", "UTC"}, {"0 3 29 2 *", "UTC"},
		{"0 3 30 2 1", "UTC"}, {"*/90 1-5/2 1,15 */3 1-5", "America/New_York"}, {"0 3 30-31 2 ?", "UTC"},
		{"TZ=Local 0 3 * * *", "UTC"}, {"@every 1s", "UTC"}, {"0 3 * * *", "Local"}, {"0 2 * * *", "Europe/Berlin"},
		{"30 2 27 3 *", "Europe/Berlin"}, {"0 0 31 * 7", "UTC"}, {"0 0 L * *", "UTC"},
	} {
		f.Add(c[0], c[1])
	}
	now := time.Date(2026, time.March, 29, 1, 30, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, spec, zone string) {
		s, err := Parse(spec, zone)
		if err != nil {
			return
		}
		next := s.Next(now)
		if !next.After(now) || next.Sub(now) > 5*366*24*time.Hour {
			t.Fatalf("Parse(%q, %q).Next(%v) = %v", spec, zone, now, next)
		}
		since := now.AddDate(-2, 0, 0)
		if tick, ok := s.LatestTick(since, now); ok && (tick.After(now) || !tick.After(since)) {
			t.Fatalf("Parse(%q, %q).LatestTick(%v, %v) = %v", spec, zone, since, now, tick)
		}
	})
}
