package controllers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	privacyv1alpha1 "github.com/lethe-operator/lethe/api/v1alpha1"
	"github.com/lethe-operator/lethe/internal/plan"
)

// start creates one Job per selected database for the tick. A database whose DataMap is
// missing, or does not map a rule's table, gets a failed entry saying so instead of a Job.
func (r *RetentionPolicyReconciler) start(ctx context.Context, p *privacyv1alpha1.RetentionPolicy,
	dbs []privacyv1alpha1.TenantDatabase, tick time.Time, trigger string) (*privacyv1alpha1.Run, error) {
	run := &privacyv1alpha1.Run{ScheduledTime: metav1.Time{Time: tick}, Trigger: trigger,
		DryRun: p.Spec.DryRun, Result: privacyv1alpha1.RunRunning}
	for i := range dbs {
		dr, err := r.startDatabase(ctx, p, &dbs[i], tick, trigger)
		if err != nil {
			return nil, err
		}
		run.Databases = append(run.Databases, dr)
	}
	return run, nil
}

func (r *RetentionPolicyReconciler) selectedDatabases(ctx context.Context, p *privacyv1alpha1.RetentionPolicy,
	selector labels.Selector) ([]privacyv1alpha1.TenantDatabase, error) {
	list := &privacyv1alpha1.TenantDatabaseList{}
	if err := r.List(ctx, list, client.InNamespace(p.Namespace), client.MatchingLabelsSelector{Selector: selector}); err != nil {
		return nil, err
	}
	sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].Name < list.Items[j].Name })
	return list.Items, nil
}

func (r *RetentionPolicyReconciler) startDatabase(ctx context.Context, p *privacyv1alpha1.RetentionPolicy,
	db *privacyv1alpha1.TenantDatabase, tick time.Time, trigger string) (privacyv1alpha1.DatabaseRun, error) {
	failed := func(reason, msg string) (privacyv1alpha1.DatabaseRun, error) {
		retentionRuns.WithLabelValues(p.Namespace, p.Name, "failed").Inc()
		r.event(p, corev1.EventTypeWarning, reason, fmt.Sprintf("database %s: %s", db.Name, msg))
		return privacyv1alpha1.DatabaseRun{Database: db.Name, Result: privacyv1alpha1.RunFailed, Reason: reason,
			Message: reason + ": " + msg}, nil
	}
	dm := &privacyv1alpha1.DataMap{}
	key := client.ObjectKey{Namespace: db.Namespace, Name: db.Spec.DataMapRef}
	err := r.Get(ctx, key, dm)
	if apierrors.IsNotFound(err) {
		// The cache may not have seen a DataMap applied together with the policy: a run
		// refused as DataMapNotFound needs the API server's word for it.
		err = r.APIReader.Get(ctx, key, dm)
	}
	if err != nil {
		if apierrors.IsNotFound(err) {
			return failed(privacyv1alpha1.ReasonDataMapNotFound, fmt.Sprintf("DataMap %q not found", db.Spec.DataMapRef))
		}
		return privacyv1alpha1.DatabaseRun{}, err
	}
	if unmapped := unmappedRuleTables(p, dm); len(unmapped) > 0 {
		return failed(privacyv1alpha1.ReasonRuleTableNotMapped, fmt.Sprintf("DataMap %s does not map table(s) %s",
			dm.Name, strings.Join(unmapped, ", ")))
	}
	cm, job, err := BuildJob(r.Jobs, retentionWork(p, db, dm, tick, trigger))
	var tooLarge *PlanTooLargeError
	if errors.As(err, &tooLarge) {
		return failed(privacyv1alpha1.ReasonPlanTooLarge, tooLarge.Error())
	}
	if err != nil {
		return privacyv1alpha1.DatabaseRun{}, err
	}
	if n := p.GetParallelism(); n > 1 {
		job.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
		job.Spec.Completions = ptr.To(n)
		job.Spec.Parallelism = ptr.To(n)
	}
	live, err := ensureJob(ctx, r.Client, r.Scheme, p, cm, job)
	if err != nil {
		return privacyv1alpha1.DatabaseRun{}, err
	}
	return privacyv1alpha1.DatabaseRun{Database: db.Name, Job: live.Name, Result: privacyv1alpha1.RunRunning}, nil
}

// retentionWork is the plan for one database: retention, or preview for a dry run,
// judged at the tick's time so a re-run of the same tick judges ages the same way.
func retentionWork(p *privacyv1alpha1.RetentionPolicy, db *privacyv1alpha1.TenantDatabase, dm *privacyv1alpha1.DataMap,
	tick time.Time, trigger string) WorkerJob {
	kind := plan.KindRetention
	if p.Spec.DryRun {
		kind = plan.KindPreview
	}
	pl := plan.Plan{Kind: kind, DataMap: dataMapPlan(dm), Rules: rulesPlan(p.Spec.Rules), Now: tick.UTC(),
		Options: plan.Options{BatchSize: p.GetBatchSize(), MaxRows: p.Spec.MaxRowsPerRun}}
	if p.GetParallelism() > 1 {
		pl.Options.Shard = &plan.Shard{Index: -1, Count: int(p.GetParallelism())}
	}
	return WorkerJob{Owner: p, OwnerKind: kindRetentionPolicy, Database: db, HashKey: dm.Spec.HashKeySecretRef,
		Key: strconv.FormatInt(tick.Unix(), 10) + "/" + trigger, Plan: pl}
}

func rulesPlan(rules []privacyv1alpha1.RetentionRule) []plan.Rule {
	out := make([]plan.Rule, 0, len(rules))
	for _, r := range rules {
		pr := plan.Rule{Name: r.Name, Table: string(r.Table), Action: string(r.Action), Columns: names(r.Columns),
			OlderThan: string(r.OlderThan), Column: string(r.Column), InactiveFor: string(r.InactiveFor),
			AllRows: r.AllRows, MaxRows: r.MaxRows, MaxPercent: int(r.MaxPercent)}
		if len(r.Columns) == 0 {
			pr.Columns = nil
		}
		for _, a := range r.Activity {
			pr.Activity = append(pr.Activity, string(a))
		}
		pr.Where, pr.IncludeOrphans = conditionsPlan(r.Where), r.IncludeOrphans
		for _, g := range r.Guards {
			pr.Guards = append(pr.Guards, guardPlan(g))
		}
		out = append(out, pr)
	}
	return out
}

// unmappedRuleTables lists the rule tables the DataMap does not describe.
func unmappedRuleTables(p *privacyv1alpha1.RetentionPolicy, dm *privacyv1alpha1.DataMap) []string {
	mapped := map[privacyv1alpha1.Identifier]bool{}
	for _, t := range dm.Spec.Tables {
		mapped[t.Name] = true
	}
	var out []string
	for _, rule := range p.Spec.Rules {
		if !mapped[rule.Table] {
			out = append(out, string(rule.Table))
		}
	}
	return out
}

// collect folds finished Jobs of the current run into its status; when every database is
// done the run moves to the history.
func (r *RetentionPolicyReconciler) collect(ctx context.Context, p *privacyv1alpha1.RetentionPolicy) error {
	run := p.Status.Current
	for i := range run.Databases {
		dr := &run.Databases[i]
		if dr.Result != privacyv1alpha1.RunRunning {
			continue
		}
		if err := r.collectDatabase(ctx, p, dr); err != nil {
			return err
		}
	}
	for _, dr := range run.Databases {
		if dr.Result == privacyv1alpha1.RunRunning {
			return nil
		}
	}
	r.finishRun(ctx, p)
	return nil
}

func (r *RetentionPolicyReconciler) collectDatabase(ctx context.Context, p *privacyv1alpha1.RetentionPolicy, dr *privacyv1alpha1.DatabaseRun) error {
	job := &batchv1.Job{}
	key := client.ObjectKey{Namespace: p.Namespace, Name: dr.Job}
	err := r.Get(ctx, key, job)
	if apierrors.IsNotFound(err) {
		// The cache may not have seen a Job created moments ago: ask the API server.
		err = r.APIReader.Get(ctx, key, job)
	}
	if err != nil {
		if !apierrors.IsNotFound(err) {
			return err
		}
		dr.Result, dr.Message = privacyv1alpha1.RunFailed, fmt.Sprintf("Job %s was deleted before it finished", dr.Job)
		retentionRuns.WithLabelValues(p.Namespace, p.Name, "failed").Inc()
		return nil
	}
	finished, succeeded := jobFinished(job)
	if !finished {
		return nil
	}
	reports, err := readIndexedReports(ctx, r.APIReader, job)
	now := metav1.Now()
	dr.CompletionTime = &now
	if c := finishedAt(job); c != nil {
		dr.CompletionTime = c
	}
	dr.Rules = ruleResults(reports)
	dr.Result = privacyv1alpha1.RunSucceeded
	switch {
	case err != nil:
		dr.Result, dr.Message = privacyv1alpha1.RunFailed, fmt.Sprintf("%v %s", err, jobFailureMessage(job))
	case !succeeded || !allSucceeded(reports):
		dr.Result, dr.Reason, dr.Message = privacyv1alpha1.RunFailed, reportReason(reports), reportErrors(reports, job)
	}
	r.recordDatabaseRun(p, job, dr)
	return nil
}

// recordDatabaseRun counts a finished database run in the metrics and as an Event.
func (r *RetentionPolicyReconciler) recordDatabaseRun(p *privacyv1alpha1.RetentionPolicy, job *batchv1.Job, dr *privacyv1alpha1.DatabaseRun) {
	retentionRuns.WithLabelValues(p.Namespace, p.Name, strings.ToLower(dr.Result)).Inc()
	retentionRunDuration.WithLabelValues(p.Namespace, p.Name).Observe(dr.CompletionTime.Sub(job.CreationTimestamp.Time).Seconds())
	var parts []string
	for _, rr := range dr.Rules {
		if rr.Outcome == plan.OutcomeAnonymized || rr.Outcome == plan.OutcomeDeleted {
			rowsProcessed.WithLabelValues(p.Namespace, p.Name, rr.Rule, rr.Table, rr.Outcome).Add(float64(rr.Rows))
		}
		parts = append(parts, fmt.Sprintf("%s %s %d %s", rr.Rule, rr.Outcome, rr.Rows, rr.Table))
	}
	if dr.Result == privacyv1alpha1.RunFailed {
		reason := "RunFailed"
		if dr.Reason != "" {
			reason = dr.Reason
		}
		r.event(p, corev1.EventTypeWarning, reason, fmt.Sprintf("database %s: %s", dr.Database, dr.Message))
		return
	}
	r.event(p, corev1.EventTypeNormal, "RunSucceeded", fmt.Sprintf("database %s: %s", dr.Database, strings.Join(parts, "; ")))
}

// finishRun moves the finished current run to the history and prunes old Jobs.
func (r *RetentionPolicyReconciler) finishRun(ctx context.Context, p *privacyv1alpha1.RetentionPolicy) {
	run := *p.Status.Current
	run.Result, run.Rows = privacyv1alpha1.RunSucceeded, 0
	if len(run.Databases) == 0 {
		run.Result = privacyv1alpha1.RunSkipped // the selector picked no database
	}
	for _, dr := range run.Databases {
		if dr.Result == privacyv1alpha1.RunFailed {
			run.Result = privacyv1alpha1.RunFailed
		}
		for _, rr := range dr.Rules {
			if !keptInPlace[rr.Outcome] {
				run.Rows += rr.Rows
			}
		}
	}
	now := metav1.Time{Time: r.Clock.Now()}
	p.Status.Current = nil
	p.Status.LastRunTime = &now
	p.Status.RowsLastRun = run.Rows
	p.Status.History = trimHistory(append([]privacyv1alpha1.Run{run}, p.Status.History...),
		p.GetSuccessfulRunsHistoryLimit(), p.GetFailedRunsHistoryLimit())
	r.pruneJobs(ctx, p)
}

// trimHistory keeps the newest runs within the limits for successful and failed runs.
func trimHistory(runs []privacyv1alpha1.Run, successful, failed int) []privacyv1alpha1.Run {
	var out []privacyv1alpha1.Run
	for _, run := range runs {
		if run.Result == privacyv1alpha1.RunFailed {
			if failed > 0 {
				out, failed = append(out, run), failed-1
			}
		} else if successful > 0 {
			out, successful = append(out, run), successful-1
		}
	}
	return out
}

// pruneJobs deletes the policy's finished Jobs that no run in the history refers to.
func (r *RetentionPolicyReconciler) pruneJobs(ctx context.Context, p *privacyv1alpha1.RetentionPolicy) {
	keep := map[string]bool{}
	for _, run := range p.Status.History {
		for _, dr := range run.Databases {
			keep[dr.Job] = true
		}
	}
	jobs := &batchv1.JobList{}
	if err := r.List(ctx, jobs, client.InNamespace(p.Namespace),
		client.MatchingLabels{LabelOwnerKind: kindRetentionPolicy, LabelOwnerName: labelValue(p.Name)}); err != nil {
		return
	}
	for i := range jobs.Items {
		job := &jobs.Items[i]
		if done, _ := jobFinished(job); done && !keep[job.Name] {
			_ = r.Delete(ctx, job, client.PropagationPolicy(metav1.DeletePropagationBackground))
		}
	}
}

// keptInPlace are the outcomes of rows a run left as they were (referenced rows are
// anonymized, so they count as processed).
var keptInPlace = map[string]bool{plan.OutcomeRetained: true, plan.OutcomeShared: true, plan.OutcomeGuarded: true}

// ruleResults sums the reports' rows per rule, table and outcome.
func ruleResults(reports []*plan.Report) []privacyv1alpha1.RuleResult {
	type key struct{ rule, table, outcome string }
	sums := map[key]*privacyv1alpha1.RuleResult{}
	var order []key
	for _, rep := range reports {
		for _, res := range rep.Results {
			k := key{res.Rule, res.Table, res.Outcome}
			rr, ok := sums[k]
			if !ok {
				rr = &privacyv1alpha1.RuleResult{Rule: res.Rule, Table: res.Table, Outcome: res.Outcome}
				sums[k], order = rr, append(order, k)
			}
			rr.Rows += res.Rows
			if res.RetainedUntil != nil && (rr.RetainedUntil == nil || res.RetainedUntil.After(rr.RetainedUntil.Time)) {
				rr.RetainedUntil = &metav1.Time{Time: *res.RetainedUntil}
			}
			rr.Basis, rr.Reason = joinOnce(rr.Basis, res.Basis), joinOnce(rr.Reason, res.Reason)
			for _, by := range res.ReferencedBy {
				if !slices.Contains(rr.ReferencedBy, by) {
					rr.ReferencedBy = append(rr.ReferencedBy, by)
				}
			}
		}
	}
	out := make([]privacyv1alpha1.RuleResult, 0, len(order))
	for _, k := range order {
		out = append(out, *sums[k])
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Rule < out[j].Rule })
	return out
}

func allSucceeded(reports []*plan.Report) bool {
	for _, rep := range reports {
		if !rep.Succeeded {
			return false
		}
	}
	return true
}

// reportReason is the code of the reports' first error ("" when they give none).
func reportReason(reports []*plan.Report) string {
	for _, rep := range reports {
		for _, e := range rep.Errors {
			return e.Code
		}
		for _, m := range rep.Mismatches {
			return m.Code
		}
	}
	return ""
}

func reportErrors(reports []*plan.Report, job *batchv1.Job) string {
	for _, rep := range reports {
		for _, e := range rep.Errors {
			return fmt.Sprintf("%s: %s", e.Code, e.Message)
		}
	}
	if msg := jobFailureMessage(job); msg != "" {
		return msg
	}
	return "the worker reported failure"
}
