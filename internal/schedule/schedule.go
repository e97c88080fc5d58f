// Package schedule reads the cron schedules of RetentionPolicies (robfig/cron's standard
// five fields, or a descriptor such as @daily) in their IANA time zone, and refuses the
// ones that would misbehave rather than fail: Local, zones inside the schedule, @every, and
// schedules that never fire.
package schedule

import (
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// maxMissedTicks bounds the search for the latest missed tick after a long outage.
const maxMissedTicks = 100000

// Schedule is a retention policy's cron schedule in its time zone.
type Schedule struct {
	cron cron.Schedule
	loc  *time.Location
}

// Parse parses a policy's schedule in its time zone. Refused, besides what does
// not parse: the zone Local (it would follow the zone of whichever manager Pod runs the
// policy), a zone given inside the schedule (TZ=, CRON_TZ=: spec.timeZone says it), @every
// (the CRD does not take it: a Job every few seconds is no retention schedule), and a
// schedule that never fires, such as 30 February (cron would answer with the zero time).
func Parse(spec, timeZone string) (*Schedule, error) {
	if timeZone == "Local" {
		return nil, fmt.Errorf("time zone Local would follow the manager Pod's zone: name an IANA zone such as Europe/Copenhagen, or UTC")
	}
	loc, err := time.LoadLocation(timeZone)
	if err != nil {
		return nil, fmt.Errorf("time zone %q: %w", timeZone, err)
	}
	if strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=") {
		return nil, fmt.Errorf("schedule %q: the time zone goes in spec.timeZone, not in a TZ= or CRON_TZ= prefix", spec)
	}
	if strings.HasPrefix(spec, "@every") {
		return nil, fmt.Errorf("schedule %q: @every is not a schedule Lethe takes (a Job every few seconds); write a cron expression", spec)
	}
	s, err := cron.ParseStandard(spec)
	if err != nil {
		return nil, fmt.Errorf("schedule %q: %w", spec, err)
	}
	// A cron schedule has no year: one that fires in none of the next five years (the
	// library's horizon) fires never, from whatever instant it is asked.
	if s.Next(time.Now().In(loc)).IsZero() {
		return nil, fmt.Errorf("schedule %q never fires: none of its months has that day of the month (such as 30 February or 31 April)", spec)
	}
	return &Schedule{cron: s, loc: loc}, nil
}

// Next is the first tick after t.
func (s *Schedule) Next(t time.Time) time.Time { return s.cron.Next(t.In(s.loc)) }

// LatestTick is the latest tick in (since, now], if any. A manager that was down over
// several ticks runs once for the latest, not once per missed tick.
func (s *Schedule) LatestTick(since, now time.Time) (time.Time, bool) {
	var latest time.Time
	found := false
	for t, i := s.Next(since), 0; !t.IsZero() && !t.After(now) && i < maxMissedTicks; t, i = s.Next(t), i+1 {
		latest, found = t, true
	}
	return latest, found
}
