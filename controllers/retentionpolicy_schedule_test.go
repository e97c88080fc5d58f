package controllers

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	privacyv1alpha1 "github.com/lethe-operator/lethe/api/v1alpha1"
)

func TestScheduleRespectsTheTimeZone(t *testing.T) {
	s, err := parseSchedule("0 3 * * *", "Europe/Copenhagen")
	if err != nil {
		t.Fatal(err)
	}
	// 3:00 in Copenhagen in winter is 2:00 UTC; in summer 1:00 UTC.
	cases := map[string]string{
		"2026-01-10T12:00:00Z": "2026-01-11T02:00:00Z",
		"2026-07-10T12:00:00Z": "2026-07-11T01:00:00Z",
	}
	for from, want := range cases {
		f, _ := time.Parse(time.RFC3339, from)
		if got := s.next(f).UTC().Format(time.RFC3339); got != want {
			t.Errorf("next after %s = %s, want %s", from, got, want)
		}
	}
}

func TestRefusesBadSchedulesAndZones(t *testing.T) {
	for _, c := range [][2]string{{"61 * * * *", "UTC"}, {"0 3 * *", "UTC"}, {"0 3 * * *", "Mars/Olympus"},
		{"0 3 30 2 *", "UTC"}, {"0 3 31 4,6,9,11 *", "Europe/Copenhagen"}, {"0 3 30-31 2 ?", "UTC"}, {"0 3 * * *", "Local"},
		{"TZ=Asia/Tokyo 0 3 * * *", "UTC"}, {"CRON_TZ=Local 0 3 * * *", "UTC"}, {"@every 1s", "UTC"}} {
		if _, err := parseSchedule(c[0], c[1]); err == nil {
			t.Errorf("parseSchedule(%q, %q) accepted", c[0], c[1])
		}
	}
}

func TestMissedTicksAreCaughtUpOnce(t *testing.T) {
	s, _ := parseSchedule("0 * * * *", "UTC")
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
	s, _ := parseSchedule("0 3 1 1 *", "UTC")
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
