package v1alpha1_test

import (
	"context"
	"fmt"
	"math/rand"
	"regexp"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/lethe-operator/lethe/internal/duration"
	"github.com/lethe-operator/lethe/internal/schedule"
	"github.com/lethe-operator/lethe/internal/testenv"
)

// The API server and the worker must draw the same lines: a duration the CRD accepts is one
// the worker runs, and one it refuses (zero, longer than 100 years) the worker refuses too,
// for plans that never went through the API server. These tests put generated durations
// and schedules through a real API server (dry run) and through Lethe's own parsers.

// isoPattern is the CRD's pattern of ISODuration: what is not of this form the API server
// refuses before the rules under test are even looked at.
var isoPattern = regexp.MustCompile(`^P([0-9]{1,9}Y)?([0-9]{1,9}M)?([0-9]{1,9}W)?([0-9]{1,9}D)?(T([0-9]{1,9}H)?([0-9]{1,9}M)?([0-9]{1,9}S)?)?$`)

// durations are the bounds of each unit from both sides, zeros, and random mixes.
func durations() []string {
	out := []string{"P0D", "PT0S", "P0Y0M0W0DT0H0M0S", "P000000000Y", "P1D", "PT1S", "P99Y11M4W30DT23H59M59S"}
	for _, u := range []struct {
		unit  string
		limit int64 // the most of the unit in 100 years of 365.25 days
		time  bool
	}{{"Y", 100, false}, {"M", 1200, false}, {"W", 5217, false}, {"D", 36525, false}, {"H", 876600, true}, {"M", 52596000, true}, {"S", 3155760000, true}} {
		for _, n := range []int64{u.limit - 1, u.limit, u.limit + 1, u.limit * 2} {
			if n > 999999999 {
				continue // beyond the pattern
			}
			if u.time {
				out = append(out, fmt.Sprintf("PT%d%s", n, u.unit))
			} else {
				out = append(out, fmt.Sprintf("P%d%s", n, u.unit))
			}
		}
	}
	out = append(out, "P100YT1S", "P99Y12M", "P99Y12M1D", "P36524DT23H59M59S", "P36525DT1S", "P1199M30D", "P5217W6D", "P5217W7D")
	rng := rand.New(rand.NewSource(15))
	for range 80 {
		s := "P"
		for _, u := range []string{"Y", "M", "W", "D"} {
			if rng.Intn(3) == 0 {
				s += fmt.Sprintf("%d%s", rng.Intn(60), u)
			}
		}
		if rng.Intn(2) == 0 {
			s += "T"
			for _, u := range []string{"H", "M", "S"} {
				if rng.Intn(2) == 0 {
					s += fmt.Sprintf("%d%s", rng.Int63n(9999999), u)
				}
			}
		}
		if s != "P" && !strings.HasSuffix(s, "T") {
			out = append(out, s)
		}
	}
	return out
}

func TestAdmissionAndTheWorkerAgreeOnDurations(t *testing.T) {
	env := testenv.Start(t)
	refused := 0
	for _, d := range durations() {
		if !isoPattern.MatchString(d) {
			t.Fatalf("%q is not of the CRD's pattern: the generator is wrong", d)
		}
		obj := withSpecEdit(t, validRetentionPolicy, fmt.Sprintf(`rules: [{name: r, table: t, action: delete, olderThan: %s, column: c}]`, d))
		admitted := dryRunCreate(env, obj)
		_, parseErr := duration.Parse(d)
		if (admitted == nil) != (parseErr == nil) {
			t.Errorf("%s: the API server says %v, the worker says %v", d, admitted, parseErr)
		}
		if admitted != nil {
			refused++
		}
	}
	if refused < 15 || refused > len(durations())-50 {
		t.Errorf("%d of %d durations refused: the generator does not probe both sides of the bounds", refused, len(durations()))
	}
}

// TestAdmissionAndTheControllerAgreeOnSchedules: what the controller would run, the API
// server accepts; what the API server refuses as never firing or out of range, the
// controller refuses too. (The API server's rules read literal fields only, so the
// controller refuses more: ranges such as 30-31 February end as Stalled.)
func TestAdmissionAndTheControllerAgreeOnSchedules(t *testing.T) {
	env := testenv.Start(t)
	fields := [][]string{
		{"0", "59", "60", "*/15", "0-59", "5,35", "*/90", "61"},
		{"3", "0", "23", "24", "*/6", "1-5", "0,12"},
		{"1", "28", "29", "30", "31", "32", "0", "*", "?", "30,31", "15-31", "L"},
		{"*", "1", "2", "02", "feb", "FEB", "4", "apr", "11", "12", "13", "0", "2,4", "2,3", "jun,sep", "*/2"},
		{"*", "?", "0", "6", "7", "1-5", "mon", "sun,sat"},
	}
	rng := rand.New(rand.NewSource(30))
	specs := []string{"@daily", "@hourly", "@weekly", "@monthly", "@yearly", "@midnight", "@annually"}
	for range 250 {
		var f []string
		for _, choices := range fields {
			f = append(f, choices[rng.Intn(len(choices))])
		}
		specs = append(specs, strings.Join(f, " "))
	}
	refusedForFiring := 0
	for _, spec := range specs {
		obj := withSpecEdit(t, validRetentionPolicy, fmt.Sprintf(`schedule: %q`, spec))
		admitted := dryRunCreate(env, obj)
		_, parseErr := schedule.Parse(spec, "UTC")
		if parseErr == nil && admitted != nil {
			t.Errorf("%q: the controller runs it, the API server refuses it: %v", spec, admitted)
		}
		if admitted != nil && (strings.Contains(admitted.Error(), "never fires") || strings.Contains(admitted.Error(), "out of range")) {
			refusedForFiring++
			if parseErr == nil {
				t.Errorf("%q: the API server refuses it (%v), the controller would run it", spec, admitted)
			}
		}
	}
	if refusedForFiring < 20 {
		t.Errorf("only %d generated schedules were refused for never firing or a field out of range: the generator misses them", refusedForFiring)
	}
}

func dryRunCreate(env *testenv.Env, obj *unstructured.Unstructured) error {
	return env.Client.Create(context.Background(), obj, client.DryRunAll)
}
