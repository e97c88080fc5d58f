// Package worker is Lethe's data plane: it runs one plan against one tenant database.
// It is what a Job's pod executes (`lethe worker --plan FILE`).
//
// Every plan starts by checking the DataMap, rules and subjects against the introspected
// catalog; a plan with any mismatch changes nothing. Then:
//
//   - rows change in primary-key keyset batches, one short transaction each, and only
//     rows whose values still differ from their masked values are updated, so a re-run,
//     or a run after a killed one, ends in the same state;
//   - every DataMap link is checked against the catalog's foreign keys and must land on a
//     key, so one row never reaches several through a step meant to reach one;
//   - rows a legal hold keeps (From after Now - RetainFor, in the table or on its way to
//     the subject; with covers record also the rows below a held row) are never touched
//     and are reported retained until the latest From + RetainFor; a NULL From is no hold;
//   - a row another row still references (a foreign key, or a DataMap link) is anonymized
//     instead of deleted and reported referenced;
//   - a row reached through referencedBy (an address) changes only when every row
//     pointing at it is erased by the run or anonymized already, else it is shared;
//   - a row a guard keeps is left (retention) or stops the subject's erasure before any
//     change (erasure), and is reported guarded;
//   - an erasure looks up every subject first (identifiers normalised per identity type),
//     then works down each subject's tree, deepest tables first and the subject's own row
//     last, following primary keys rather than the identifier, then counts what
//     identifying values are left;
//   - a subject-relative rule (inactiveFor) never selects a row that reaches no subject,
//     unless it includes orphans;
//   - condition ne is NULL-safe (a NULL differs from every value); the others follow SQL.
package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/lethe-operator/lethe/internal/plan"
)

// ErrNoPlan is returned when the worker is started without a plan to run.
var ErrNoPlan = errors.New("no plan: run `lethe worker --plan FILE` with the plan the controller wrote")

// DefaultTerminationLog is where Kubernetes reads a container's termination message.
const DefaultTerminationLog = "/dev/termination-log"

// Exit codes of the worker (plan.Exit*): the Job's pod failure policy fails the Job at
// once on ExitUsage and ExitFinal, and retries ExitFailed up to its backoffLimit.
const (
	ExitSucceeded = plan.ExitSucceeded
	// ExitFailed: the plan failed in a way a retry may not; the report says why.
	ExitFailed = plan.ExitRetryable
	// ExitUsage: the command line was wrong; no report was written.
	ExitUsage = plan.ExitUsage
	// ExitFinal: the plan was refused or failed with a fixed outcome; the report says why.
	ExitFinal = plan.ExitFinal
)

// Main runs the worker with its command-line arguments and returns the process exit code
// (see ExitCode). The report goes to stdout in full and to the
// termination log summarised to fit Kubernetes' 4 KiB limit.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	planPath := fs.String("plan", "", "path to the plan (JSON) to run")
	terminationLog := fs.String("termination-log", DefaultTerminationLog, "where to write the report for the pod's termination message")
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	if *planPath == "" {
		fmt.Fprintln(stderr, ErrNoPlan)
		return ExitUsage
	}
	report := runFile(ctx, *planPath, stderr)
	full, _ := json.Marshal(report)
	fmt.Fprintf(stdout, "%s\n", full)
	if err := os.WriteFile(*terminationLog, Summarise(report, MaxTerminationMessage), 0o644); err != nil {
		fmt.Fprintf(stderr, "lethe worker: cannot write the termination log %s: %v\n", *terminationLog, err)
	}
	return ExitCode(report)
}

// ExitCode is the exit code for a report: ExitSucceeded, ExitFailed when any error may go
// away on a retry (plan.Retryable), else ExitFinal: a schema mismatch, an invalid plan or
// a refused rule gives the same answer however often the pod runs.
func ExitCode(report plan.Report) int {
	if report.Succeeded {
		return ExitSucceeded
	}
	for _, e := range report.Errors {
		if plan.Retryable(e.Code) {
			return ExitFailed
		}
	}
	if len(report.Errors) == 0 && len(report.Mismatches) == 0 {
		return ExitFailed // a failure without a reason: let the Job try again
	}
	return ExitFinal
}

// runFile loads the plan at path and runs it; a plan that cannot be read is a failed
// report, so the controller learns why from the termination message.
func runFile(ctx context.Context, path string, stderr io.Writer) plan.Report {
	p, err := loadPlan(path)
	if err != nil {
		return plan.Report{StartedAt: time.Now().UTC(), Errors: []plan.Error{{Code: plan.ErrInvalidPlan, Message: err.Error()}}}
	}
	return Run(ctx, p, stderr)
}

func loadPlan(path string) (plan.Plan, error) {
	var p plan.Plan
	b, err := os.ReadFile(path)
	if err != nil {
		return p, fmt.Errorf("cannot read the plan %s: is the ConfigMap mounted?", path)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&p); err != nil {
		return p, fmt.Errorf("the plan %s is not valid JSON for a plan: %v", path, err)
	}
	return p, nil
}
