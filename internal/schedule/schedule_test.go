package schedule

import (
	"testing"
	"time"
)

func TestScheduleRespectsTheTimeZone(t *testing.T) {
	s, err := Parse("0 3 * * *", "Europe/Copenhagen")
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
		if got := s.Next(f).UTC().Format(time.RFC3339); got != want {
			t.Errorf("next after %s = %s, want %s", from, got, want)
		}
	}
}

func TestRefusesBadSchedulesAndZones(t *testing.T) {
	for _, c := range [][2]string{{"61 * * * *", "UTC"}, {"0 3 * *", "UTC"}, {"0 3 * * *", "Mars/Olympus"},
		{"0 3 30 2 *", "UTC"}, {"0 3 31 4,6,9,11 *", "Europe/Copenhagen"}, {"0 3 30-31 2 ?", "UTC"}, {"0 3 * * *", "Local"},
		{"TZ=Asia/Tokyo 0 3 * * *", "UTC"}, {"CRON_TZ=Local 0 3 * * *", "UTC"}, {"@every 1s", "UTC"}} {
		if _, err := Parse(c[0], c[1]); err == nil {
			t.Errorf("Parse(%q, %q) accepted", c[0], c[1])
		}
	}
}
