package controllers

import (
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	privacyv1alpha1 "github.com/lethe-operator/lethe/api/v1alpha1"
)

// maxMissedTicks bounds the search for the latest missed tick after a long outage.
const maxMissedTicks = 100000

// schedule is a policy's cron schedule in its time zone.
type schedule struct {
	cron cron.Schedule
	loc  *time.Location
}

// parseSchedule parses a policy's schedule in its time zone. Refused, besides what does
// not parse: the zone Local (it would follow the zone of whichever manager Pod runs the
// policy), a zone given inside the schedule (TZ=, CRON_TZ=: spec.timeZone says it), @every
// (the CRD does not take it: a Job every few seconds is no retention schedule), and a
// schedule that never fires, such as 30 February (cron would answer with the zero time).
func parseSchedule(spec, timeZone string) (*schedule, error) {
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
	return &schedule{cron: s, loc: loc}, nil
}

// next is the first tick after t.
func (s *schedule) next(t time.Time) time.Time { return s.cron.Next(t.In(s.loc)) }

// latestTick is the latest tick in (since, now], if any. A manager that was down over
// several ticks runs once for the latest, not once per missed tick.
func (s *schedule) latestTick(since, now time.Time) (time.Time, bool) {
	var latest time.Time
	found := false
	for t, i := s.next(since), 0; !t.IsZero() && !t.After(now) && i < maxMissedTicks; t, i = s.next(t), i+1 {
		latest, found = t, true
	}
	return latest, found
}

// dueRun says whether a run is due now and for which scheduled time and trigger: the
// run-now annotation first, else the latest cron tick since the last one started (or
// since the policy was created).
func dueRun(p *privacyv1alpha1.RetentionPolicy, s *schedule, now time.Time) (time.Time, string, bool) {
	if v := p.Annotations[privacyv1alpha1.RunNowAnnotation]; v != "" && v != p.Status.LastRunNow {
		return now, runNowTrigger + v, true
	}
	since := p.CreationTimestamp.Time
	if p.Status.LastScheduledTime != nil {
		since = p.Status.LastScheduledTime.Time
	}
	tick, ok := s.latestTick(since, now)
	return tick, scheduleTrigger, ok
}

const (
	scheduleTrigger = "schedule"
	runNowTrigger   = "run-now:"
)
