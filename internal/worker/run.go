package worker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/lethe-operator/lethe/internal/engine"
	"github.com/lethe-operator/lethe/internal/plan"
)

// maxBatchSize bounds Options.BatchSize: one batch is one transaction and must stay short.
const maxBatchSize = 1_000_000

// runner runs one plan against one database.
type runner struct {
	plan   plan.Plan
	eng    engine.Engine
	schema *schema
	rules  []*rule
	// job are the erasures of the subjects the run erases, known before any changes: a
	// row they share is the run's to erase.
	job        []*erasure
	now        time.Time
	batchSize  int
	shardIndex int
	report     *plan.Report
	log        io.Writer
}

// Run runs p and returns its report. It never panics on bad input: every failure is an
// error in the report, with a code from plan.Err*. Progress goes to log, without values.
func Run(ctx context.Context, p plan.Plan, log io.Writer) plan.Report {
	started := time.Now()
	report := plan.Report{Kind: p.Kind, StartedAt: started.UTC()}
	r := &runner{plan: p, report: &report, log: log, now: p.Now.UTC()}
	r.runSafely(ctx)
	report.DurationMillis = time.Since(started).Milliseconds()
	report.Succeeded = len(report.Errors) == 0 && len(report.Mismatches) == 0
	return report
}

// runSafely runs the plan and turns a bug that panics into an Internal error in the
// report, so the controller still learns that the run failed. The panic value is not
// reported (it could quote a value); the stack goes to the log.
func (r *runner) runSafely(ctx context.Context) {
	defer func() {
		if v := recover(); v != nil {
			r.failf(plan.ErrInternal, "the worker hit a bug (a panic); nothing after it ran")
			if r.log != nil {
				r.log.Write(debug.Stack())
			}
		}
	}()
	r.run(ctx)
}

func (r *runner) run(ctx context.Context) {
	timeouts, hashKey, ok := r.options()
	if !ok {
		return
	}
	eng, err := engine.Open(ctx, r.plan.Database, timeouts)
	if err != nil {
		r.fail(err)
		return
	}
	defer eng.Close()
	r.eng = eng
	cat, err := eng.Catalog(ctx)
	if err != nil {
		r.fail(err)
		return
	}
	if r.plan.Kind == plan.KindDraft {
		// A draft has no DataMap to check: it proposes one.
		r.draft(ctx, cat)
		return
	}
	s, mm := resolveSchema(r.plan.DataMap, cat, r.plan.Database.Name, hashKey)
	r.schema = s
	for _, spec := range r.plan.Rules {
		checkRuleShape(spec, &mm)
		if rl := resolveRule(s, spec, r.now, &mm); rl != nil {
			r.rules = append(r.rules, rl)
		}
	}
	r.checkSubjects(&mm)
	if r.plan.Kind == plan.KindVerify {
		r.report.Mismatches = mm
		r.logf("verify: %d mismatches", len(mm))
		return
	}
	if len(mm) > 0 {
		// Nothing runs on a plan that does not match the database.
		for _, m := range mm {
			r.report.Errors = append(r.report.Errors, plan.Error{Code: m.Code, Message: m.Message, Table: m.Table})
		}
		return
	}
	r.dispatch(ctx)
}

func (r *runner) dispatch(ctx context.Context) {
	switch r.plan.Kind {
	case plan.KindRetention:
		if r.checkCeilings(ctx, false) {
			r.applyRules(ctx, false)
		}
	case plan.KindPreview:
		r.checkCeilings(ctx, true)
		r.applyRules(ctx, true)
		r.eraseSubjects(ctx, true)
	case plan.KindErasure:
		r.eraseSubjects(ctx, false)
	case plan.KindExport:
		r.export(ctx)
	}
}

// options checks the plan's kind and options; ok is false when the plan cannot run.
func (r *runner) options() (timeouts engine.Timeouts, hashKey []byte, ok bool) {
	p := r.plan
	switch p.Kind {
	case plan.KindVerify, plan.KindPreview, plan.KindRetention, plan.KindErasure, plan.KindExport, plan.KindDraft:
	default:
		r.failf(plan.ErrInvalidPlan, "unknown plan kind %q (use verify, preview, retention, erasure, export or draft)", p.Kind)
		return timeouts, nil, false
	}
	if p.Now.IsZero() && (p.Kind == plan.KindRetention || p.Kind == plan.KindPreview || p.Kind == plan.KindErasure) {
		r.failf(plan.ErrInvalidPlan, "the plan has no reference time (now): ages and legal holds are judged against it")
	}
	r.batchSize = p.Options.BatchSize
	if r.batchSize <= 0 {
		r.batchSize = DefaultBatchSize
	}
	if r.batchSize > maxBatchSize {
		r.failf(plan.ErrInvalidPlan, "batchSize %d is above the maximum of %d", r.batchSize, maxBatchSize)
	}
	if p.Options.MaxRows < 0 {
		r.failf(plan.ErrInvalidPlan, "maxRows %d is negative", p.Options.MaxRows)
	}
	timeouts.Lock = r.parseTimeout("lockTimeout", p.Options.LockTimeout)
	timeouts.Statement = r.parseTimeout("statementTimeout", p.Options.StatementTimeout)
	r.resolveShard()
	if p.Database.Host == "" || p.Database.Name == "" {
		r.failf(plan.ErrInvalidPlan, "the plan's database needs a host and a name")
	}
	if p.Options.HashKeyFile != "" {
		key, err := os.ReadFile(p.Options.HashKeyFile)
		if err != nil {
			r.failf(plan.ErrInvalidPlan, "cannot read the hash key file %s: is the Secret mounted?", p.Options.HashKeyFile)
		}
		// A trailing newline (kubectl create secret --from-file keeps one) is not part of
		// the key, as for the database password.
		hashKey = bytes.TrimRight(key, "\r\n")
	}
	if p.Kind == plan.KindDraft {
		checkDraftConfigMap(p.Options.Draft, r)
	}
	if p.Kind == plan.KindExport && p.Options.ExportDir == "" {
		r.failf(plan.ErrInvalidPlan, "an export plan needs options.exportDir")
	}
	return timeouts, hashKey, len(r.report.Errors) == 0
}

func (r *runner) parseTimeout(name, s string) time.Duration {
	if s == "" {
		return 0
	}
	d, err := time.ParseDuration(s)
	// Timeouts reach the databases in whole milliseconds (seconds on MySQL), and 0 there
	// means none: a shorter one would turn the bound off.
	if err != nil || d < time.Millisecond {
		r.failf(plan.ErrInvalidPlan, "%s %q is not a Go duration of at least 1ms, such as 5s", name, s)
	}
	return d
}

// resolveShard reads the shard index, from JOB_COMPLETION_INDEX for an Indexed Job.
func (r *runner) resolveShard() {
	sh := r.plan.Options.Shard
	if sh == nil {
		return
	}
	index := sh.Index
	if index == -1 {
		n, err := strconv.Atoi(os.Getenv("JOB_COMPLETION_INDEX"))
		if err != nil {
			r.failf(plan.ErrInvalidPlan, "shard index -1 needs JOB_COMPLETION_INDEX (set by an Indexed Job)")
			return
		}
		index = n
	}
	if sh.Count < 1 || index < 0 || index >= sh.Count {
		r.failf(plan.ErrInvalidPlan, "shard %d of %d is out of range", index, sh.Count)
		return
	}
	r.shardIndex = index
}

// checkSubjects checks the subjects' identity types and actions against the schema.
func (r *runner) checkSubjects(mm *mismatches) {
	seen := map[string]bool{}
	for _, sub := range r.plan.Subjects {
		if seen[sub.ID] {
			mm.add("", "", plan.ErrInvalidPlan, "subject %q is listed twice", sub.ID)
		}
		seen[sub.ID] = true
		if len(r.subjectTables(sub.Type)) == 0 {
			mm.add("", "", plan.ErrUnknownIdentifier, "subject %q: identity type %q is not an identifier of any DataMap table in the database", sub.ID, sub.Type)
		}
		switch sub.Action {
		case "", plan.ActionAnonymize, plan.ActionDelete:
		default:
			mm.add("", "", plan.ErrInvalidPlan, "subject %q: action %q is not anonymize or delete", sub.ID, sub.Action)
		}
		if sub.ValueFile == "" {
			mm.add("", "", plan.ErrInvalidPlan, "subject %q has no valueFile", sub.ID)
		}
	}
	if r.plan.Kind == plan.KindExport && len(r.plan.Subjects) != 1 {
		mm.add("", "", plan.ErrInvalidPlan, "an export plan exports exactly one subject (got %d)", len(r.plan.Subjects))
	}
}

// subjectTables returns the tables whose identifiers include the identity type.
func (r *runner) subjectTables(identityType string) []*table {
	var out []*table
	for _, t := range r.schema.tables {
		if _, ok := t.identifiers[identityType]; ok {
			out = append(out, t)
		}
	}
	return out
}

// applyRules runs every rule; a rule that fails is reported and the next one still runs,
// unless the database is gone.
func (r *runner) applyRules(ctx context.Context, preview bool) {
	for _, rl := range r.rules {
		results, err := r.applyRule(ctx, rl, preview)
		r.report.Results = append(r.report.Results, results...)
		for _, res := range results {
			r.logf("%s: %s %d", rl.describe(), res.Outcome, res.Rows)
		}
		if err != nil {
			r.report.Results = append(r.report.Results, plan.Result{Table: rl.table.name(), Rule: rl.spec.Name, Outcome: plan.OutcomeFailed})
			if r.failIn(err, rl.table.name(), rl.describe()) {
				return
			}
		}
	}
}

// fail records an error; the message is the engine's, which holds no values.
func (r *runner) fail(err error) {
	e := engine.AsError(err)
	r.report.Errors = append(r.report.Errors, plan.Error{Code: e.Code, Message: e.Message, Table: e.Table})
	r.logf("error %s: %s", e.Code, e.Message)
}

// failIn records an error met while working on table, and reports whether the run must
// stop (the connection is gone or the run was cancelled).
func (r *runner) failIn(err error, table, what string) (stop bool) {
	e := engine.AsError(err)
	r.report.Errors = append(r.report.Errors, plan.Error{Code: e.Code, Message: what + ": " + e.Message, Table: table})
	r.logf("error %s: %s: %s", e.Code, what, e.Message)
	return e.Code == plan.ErrUnreachable || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

func (r *runner) failf(code, format string, args ...any) {
	r.fail(engine.Errorf(code, format, args...))
}

func (r *runner) logf(format string, args ...any) {
	if r.log != nil {
		fmt.Fprintf(r.log, "lethe worker: %s\n", strings.TrimSpace(fmt.Sprintf(format, args...)))
	}
}
