// Package worker is Lethe's data plane: it runs one plan against one tenant database.
// It is what a Job's pod executes (`lethe worker --plan FILE`).
package worker

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
)

// ErrNoPlan is returned when the worker is started without a plan to run.
var ErrNoPlan = errors.New("no plan: run `lethe worker --plan FILE` with the plan the controller wrote")

// Main runs the worker with its command-line arguments and returns the process exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	planPath := fs.String("plan", "", "path to the plan (JSON) to run")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *planPath == "" {
		fmt.Fprintln(stderr, ErrNoPlan)
		return 2
	}
	fmt.Fprintf(stderr, "lethe worker: running plans is not available yet (plan %s)\n", *planPath)
	return 1
}
