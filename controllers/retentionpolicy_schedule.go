package controllers

import (
	"fmt"
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

func parseSchedule(spec, timeZone string) (*schedule, error) {
	loc, err := time.LoadLocation(timeZone)
	if err != nil {
		return nil, fmt.Errorf("time zone %q: %w", timeZone, err)
	}
	s, err := cron.ParseStandard(spec)
	if err != nil {
		return nil, fmt.Errorf("schedule %q: %w", spec, err)
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
	for t, i := s.next(since), 0; !t.After(now) && i < maxMissedTicks; t, i = s.next(t), i+1 {
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
