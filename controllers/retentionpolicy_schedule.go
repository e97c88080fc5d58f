package controllers

import (
	"time"

	privacyv1alpha1 "github.com/lethe-operator/lethe/api/v1alpha1"
	"github.com/lethe-operator/lethe/internal/schedule"
)

// dueRun says whether a run is due now and for which scheduled time and trigger: the
// run-now annotation first, else the latest cron tick since the last one started (or
// since the policy was created).
func dueRun(p *privacyv1alpha1.RetentionPolicy, s *schedule.Schedule, now time.Time) (time.Time, string, bool) {
	if v := p.Annotations[privacyv1alpha1.RunNowAnnotation]; v != "" && v != p.Status.LastRunNow {
		return now, runNowTrigger + v, true
	}
	since := p.CreationTimestamp.Time
	if p.Status.LastScheduledTime != nil {
		since = p.Status.LastScheduledTime.Time
	}
	tick, ok := s.LatestTick(since, now)
	return tick, scheduleTrigger, ok
}

const (
	scheduleTrigger = "schedule"
	runNowTrigger   = "run-now:"
)
