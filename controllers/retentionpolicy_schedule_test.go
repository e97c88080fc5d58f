package controllers

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	privacyv1alpha1 "github.com/lethe-operator/lethe/api/v1alpha1"
	"github.com/lethe-operator/lethe/internal/schedule"
)

func TestMissedTicksAreCaughtUpOnce(t *testing.T) {
	s, _ := schedule.Parse("0 * * * *", "UTC")
	created := time.Date(2026, 3, 1, 0, 30, 0, 0, time.UTC)
	p := &privacyv1alpha1.RetentionPolicy{ObjectMeta: metav1.ObjectMeta{CreationTimestamp: metav1.NewTime(created)}}

	// The manager was down from 00:30 to 05:10: one run, for the 05:00 tick.
	tick, trigger, due := dueRun(p, s, created.Add(4*time.Hour+40*time.Minute))
	if !due || trigger != scheduleTrigger || !tick.Equal(time.Date(2026, 3, 1, 5, 0, 0, 0, time.UTC)) {
		t.Fatalf("dueRun = %v %q %v, want the 05:00 tick", tick, trigger, due)
	}
	// After that run started, nothing is due until 06:00.
	p.Status.LastScheduledTime = &metav1.Time{Time: tick}
	if _, _, due := dueRun(p, s, tick.Add(59*time.Minute)); due {
		t.Fatal("a second run is due before the next tick")
	}
	if next, _, due := dueRun(p, s, tick.Add(time.Hour)); !due || !next.Equal(tick.Add(time.Hour)) {
		t.Fatalf("the 06:00 tick is not due at 06:00: %v %v", next, due)
	}
}

func TestRunNowAnnotationTriggersOncePerValue(t *testing.T) {
	s, _ := schedule.Parse("0 3 1 1 *", "UTC")
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	p := &privacyv1alpha1.RetentionPolicy{ObjectMeta: metav1.ObjectMeta{
		CreationTimestamp: metav1.NewTime(now.Add(-time.Hour)),
		Annotations:       map[string]string{privacyv1alpha1.RunNowAnnotation: "1"},
	}}
	tick, trigger, due := dueRun(p, s, now)
	if !due || trigger != runNowTrigger+"1" || !tick.Equal(now) {
		t.Fatalf("dueRun = %v %q %v, want a run now", tick, trigger, due)
	}
	p.Status.LastRunNow = "1"
	if _, _, due := dueRun(p, s, now); due {
		t.Fatal("the same run-now value triggered twice")
	}
}
