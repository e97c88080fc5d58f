package worker_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lethe-operator/lethe/internal/plan"
	"github.com/lethe-operator/lethe/internal/worker"
)

// runMain runs the worker's command line on p and returns its exit code, the report from
// stdout and the report from the termination log.
func runMain(t *testing.T, p plan.Plan) (int, plan.Report, plan.Report) {
	t.Helper()
	dir := t.TempDir()
	planFile, termLog := filepath.Join(dir, "plan.json"), filepath.Join(dir, "termination-log")
	b, _ := json.Marshal(p)
	if err := os.WriteFile(planFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := worker.Main(context.Background(), []string{"--plan", planFile, "--termination-log", termLog}, &stdout, &stderr)
	var out, term plan.Report
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("stdout is not a report: %v\n%s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	tb, err := os.ReadFile(termLog)
	if err != nil {
		t.Fatal(err)
	}
	if len(tb) > worker.MaxTerminationMessage {
		t.Errorf("termination log is %d bytes", len(tb))
	}
	if err := json.Unmarshal(tb, &term); err != nil {
		t.Fatalf("termination log is not a report: %v", err)
	}
	return code, out, term
}

func TestFailuresHaveDistinctCodesAndANonZeroExit(t *testing.T) {
	closedPort := func() int {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().(*net.TCPAddr).Port
	}()
	cases := []struct {
		name   string
		change func(tn *tenant, p *plan.Plan)
		code   string
	}{
		{"unreachable", func(_ *tenant, p *plan.Plan) { p.Database.Port = closedPort }, plan.ErrUnreachable},
		{"bad password", func(tn *tenant, p *plan.Plan) { p.Database.PasswordFile = tn.file("wrong-password", "hunter2") }, plan.ErrAuthentication},
		{"missing table", func(tn *tenant, _ *plan.Plan) { tn.exec("DROP TABLE support_tickets") }, plan.ErrMissingTable},
		{"incompatible strategy", func(_ *tenant, p *plan.Plan) {
			p.DataMap.Tables[0].Columns[0].Mask = plan.Mask{Strategy: plan.StrategyNullify}
		}, plan.ErrIncompatible},
		{"lock timeout", func(tn *tenant, p *plan.Plan) {
			holdRow(tn)
			p.Options.LockTimeout = "1s"
		}, plan.ErrTimeout},
		{"statement timeout", func(tn *tenant, p *plan.Plan) {
			holdRow(tn)
			p.Options.LockTimeout, p.Options.StatementTimeout = "30s", "1s"
		}, plan.ErrTimeout},
		{"unknown kind", func(_ *tenant, p *plan.Plan) { p.Kind = "purge" }, plan.ErrInvalidPlan},
		{"no reference time", func(_ *tenant, p *plan.Plan) { p.Now = time.Time{} }, plan.ErrInvalidPlan},
		{"draft without a ConfigMap", func(_ *tenant, p *plan.Plan) { p.Kind = plan.KindDraft }, plan.ErrInvalidPlan},
	}
	for _, e := range engines {
		t.Run(e, func(t *testing.T) {
			t.Parallel()
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					tn := newTenant(t, e)
					setupBooking(tn)
					p := tn.plan(plan.KindRetention)
					p.Rules = retentionRules()[:1]
					c.change(tn, &p)
					code, out, term := runMain(t, p)
					if code == 0 || out.Succeeded || term.Succeeded {
						t.Fatalf("exit %d, succeeded %v", code, out.Succeeded)
					}
					if len(out.Errors) == 0 || out.Errors[0].Code != c.code {
						t.Fatalf("errors = %+v, want first code %s", out.Errors, c.code)
					}
					if len(term.Errors) == 0 || term.Errors[0].Code != c.code {
						t.Fatalf("termination log errors = %+v, want code %s", term.Errors, c.code)
					}
					if strings.Contains(out.Errors[0].Message, "hunter2") {
						t.Fatal("the message quotes the password")
					}
					t.Logf("%s: %s", out.Errors[0].Code, out.Errors[0].Message)
				})
			}
		})
	}
}

// holdRow locks bob's row from another connection until the test ends.
func holdRow(tn *tenant) {
	holder, err := tn.db.Begin()
	if err != nil {
		tn.t.Fatal(err)
	}
	tn.t.Cleanup(func() { _ = holder.Rollback() })
	if _, err := holder.Exec("UPDATE customers SET country = 'XX' WHERE id = 2"); err != nil {
		tn.t.Fatal(err)
	}
}

func TestMainExitsZeroOnlyWhenThePlanSucceeded(t *testing.T) {
	tn := newTenant(t, engines[0])
	setupBooking(tn)
	p := tn.plan(plan.KindVerify)
	if code, out, _ := runMain(t, p); code != 0 || !out.Succeeded {
		t.Fatalf("verify of a matching DataMap: exit %d, report %+v", code, out)
	}
	var stderr bytes.Buffer
	if code := worker.Main(context.Background(), nil, &bytes.Buffer{}, &stderr); code != worker.ExitUsage {
		t.Fatalf("no --plan: exit %d, want %d", code, worker.ExitUsage)
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "plan.json")
	_ = os.WriteFile(bad, []byte("{not json"), 0o600)
	var stdout bytes.Buffer
	code := worker.Main(context.Background(), []string{"--plan", bad, "--termination-log", filepath.Join(dir, "log")}, &stdout, &stderr)
	if code != worker.ExitFinal || !strings.Contains(stdout.String(), plan.ErrInvalidPlan) {
		t.Fatalf("unreadable plan: exit %d, stdout %s", code, stdout.String())
	}
}

func TestSummariseKeepsTheReportUnderTheTerminationMessageLimit(t *testing.T) {
	until := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	r := plan.Report{Kind: plan.KindErasure, StartedAt: time.Now().UTC(), Remaining: map[string]int64{}}
	var total int64
	for i := 0; i < 400; i++ {
		sub := fmt.Sprintf("erasure-request-%04d", i)
		r.Results = append(r.Results,
			plan.Result{Table: "customers", Subject: sub, Outcome: plan.OutcomeAnonymized, Rows: 1},
			plan.Result{Table: "invoices", Subject: sub, Outcome: plan.OutcomeRetained, Rows: 2, RetainedUntil: &until},
			plan.Result{Table: "bookings", Subject: sub, Outcome: plan.OutcomeDeleted, Rows: 0})
		r.Remaining[sub] = 0
		total++
	}
	for i := 0; i < 50; i++ {
		r.Errors = append(r.Errors, plan.Error{Code: plan.ErrTimeout, Message: strings.Repeat("lock wait ", 40)})
	}
	b := worker.Summarise(r, worker.MaxTerminationMessage)
	if len(b) > worker.MaxTerminationMessage {
		t.Fatalf("summary is %d bytes", len(b))
	}
	decoded, err := plan.DecodeReport(b)
	if err != nil {
		t.Fatal(err)
	}
	s := *decoded
	if !s.Truncated || len(s.Errors) == 0 || s.Errors[0].Code != plan.ErrTimeout {
		t.Fatalf("summary = %s", b)
	}
	var anonymized, retained int64
	for _, res := range s.Results {
		switch res.Outcome {
		case plan.OutcomeAnonymized:
			anonymized += res.Rows
		case plan.OutcomeRetained:
			retained += res.Rows
			if res.RetainedUntil == nil || !res.RetainedUntil.Equal(until) {
				t.Errorf("retainedUntil lost: %+v", res)
			}
		}
	}
	if anonymized != total || retained != 2*total {
		t.Fatalf("summary totals: anonymized %d (want %d), retained %d (want %d)", anonymized, total, retained, 2*total)
	}
	small := plan.Report{Kind: plan.KindVerify, Succeeded: true}
	if s := worker.Summarise(small, worker.MaxTerminationMessage); strings.Contains(string(s), "truncated") {
		t.Fatalf("a small report was truncated: %s", s)
	}
}
