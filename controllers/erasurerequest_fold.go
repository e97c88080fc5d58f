package controllers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	privacyv1alpha1 "github.com/lethe-operator/lethe/api/v1alpha1"
	"github.com/lethe-operator/lethe/internal/plan"
)

// AnnotationRequests on an erasure or preview Job lists the UIDs of the ErasureRequests
// it covers, so a request whose status missed the Job's name finds it again.
const AnnotationRequests = "privacy.lethe.dev/erasure-requests"

// foldFinished records the outcome of every finished Job in the requests it covered.
func (r *ErasureBatchReconciler) foldFinished(ctx context.Context, p *pass) error {
	if err := r.adoptJobs(ctx, p); err != nil {
		return err
	}
	reports := map[string]*plan.Report{}
	for _, er := range p.requests {
		t := er.Status.GetTarget(p.db.Name)
		if t.Job == "" || (t.State != privacyv1alpha1.TargetRunning && t.State != privacyv1alpha1.TargetPreviewing) {
			continue
		}
		job := &batchv1.Job{}
		if err := r.Get(ctx, client.ObjectKey{Namespace: p.db.Namespace, Name: t.Job}, job); err != nil {
			if !apierrors.IsNotFound(err) {
				return err
			}
			// Deleted before its outcome was read: run the work again (it is idempotent).
			t.LostReport = t.LostReport || t.State == privacyv1alpha1.TargetRunning
			t.State, t.Job, t.Message = privacyv1alpha1.TargetPending, "", "the Job "+t.Job+" disappeared; queued again"
			continue
		}
		if finished, _ := jobFinished(job); !finished {
			continue
		}
		report, ok := reports[job.Name]
		if !ok {
			var err error
			if report, err = readReport(ctx, r.APIReader, job); err != nil && !errors.Is(err, ErrNoReport) {
				return err
			}
			reports[job.Name] = report
		}
		kind := plan.Kind(job.Labels[LabelPlanKind])
		if err := r.fold(ctx, p, er, t, kind, report, jobFailureMessage(job)); err != nil {
			return err
		}
	}
	return nil
}

// adoptJobs gives a request that is pending without a Job the unfinished or finished
// Job that already covers it (its status write was lost after the Job was created).
func (r *ErasureBatchReconciler) adoptJobs(ctx context.Context, p *pass) error {
	jobs := &batchv1.JobList{}
	if err := r.List(ctx, jobs, client.InNamespace(p.db.Namespace), client.MatchingLabels{
		LabelOwnerKind: kindTenantDatabase, LabelOwnerName: labelValue(p.db.Name),
	}); err != nil {
		return err
	}
	byUID := map[string]*batchv1.Job{}
	for i := range jobs.Items {
		for _, uid := range strings.Split(jobs.Items[i].Annotations[AnnotationRequests], ",") {
			if uid != "" {
				byUID[uid] = &jobs.Items[i]
			}
		}
	}
	for _, er := range p.requests {
		t := er.Status.GetTarget(p.db.Name)
		job := byUID[string(er.UID)]
		if job == nil || t.Job != "" || t.State != privacyv1alpha1.TargetPending {
			continue
		}
		t.Job, t.QueuedAt, t.State = job.Name, nil, privacyv1alpha1.TargetRunning
		if job.Labels[LabelPlanKind] == string(plan.KindPreview) {
			t.State = privacyv1alpha1.TargetPreviewing
		}
	}
	return nil
}

// fold records one request's outcome from a finished Job and schedules a retry when
// the run failed.
func (r *ErasureBatchReconciler) fold(ctx context.Context, p *pass, er *privacyv1alpha1.ErasureRequest,
	t *privacyv1alpha1.ErasureTarget, kind plan.Kind, report *plan.Report, jobMsg string) error {
	foldReport(t, kind, er.Name, report, jobMsg)
	t.QueuedAt = nil
	switch t.State {
	case privacyv1alpha1.TargetRetrying:
		t.Attempts++
		wait := erasureBackoff(r.RetryBackoff, t.Attempts)
		t.QueuedAt = &metav1.Time{Time: p.now.Add(wait).Truncate(time.Second)}
		t.Message += fmt.Sprintf(" (attempt %d; next in %s)", t.Attempts, wait)
		p.wake(wait)
		r.event(er, corev1.EventTypeWarning, privacyv1alpha1.ReasonErasureFailed, "Erase", p.db.Name+": "+t.Message)
	case privacyv1alpha1.TargetGuarded:
		// A person has to act first (appoint another administrator); look again later.
		t.QueuedAt = &metav1.Time{Time: p.now.Add(retryFailed).Truncate(time.Second)}
		r.event(er, corev1.EventTypeWarning, privacyv1alpha1.ReasonGuarded, "Erase", p.db.Name+": "+t.Message)
	case privacyv1alpha1.TargetFailed:
		t.Attempts++
		t.QueuedAt = &metav1.Time{Time: p.now.Add(retryFailed).Truncate(time.Second)}
		r.event(er, corev1.EventTypeWarning, privacyv1alpha1.ReasonErasureFailed, "Erase", p.db.Name+": "+t.Message)
	case privacyv1alpha1.TargetDone:
		t.Attempts = 0
		if err := r.annotateRetained(ctx, p, er, t); err != nil {
			return err
		}
		countRows(t)
		r.event(er, corev1.EventTypeNormal, "Erased", "Erase", fmt.Sprintf("%s: %s", p.db.Name, describeTables(t.Tables)))
	default:
		r.event(er, corev1.EventTypeNormal, string(t.State), "Erase", fmt.Sprintf("%s: %s", p.db.Name, t.Message))
	}
	return nil
}

// annotateRetained names, for each table kept under a legal hold, the RetentionPolicy
// rule that will remove the rows once the hold ends, or warns that none will.
func (r *ErasureBatchReconciler) annotateRetained(ctx context.Context, p *pass, er *privacyv1alpha1.ErasureRequest, t *privacyv1alpha1.ErasureTarget) error {
	for i := range t.Tables {
		tab := &t.Tables[i]
		if tab.Outcome != plan.OutcomeRetained {
			continue
		}
		rule, err := p.coverage.ruleFor(ctx, tab.Name)
		if err != nil {
			return err
		}
		if rule != "" {
			tab.CoveredBy = rule
			continue
		}
		tab.Warning = privacyv1alpha1.ReasonNoRetentionCoverage
		r.event(er, corev1.EventTypeWarning, privacyv1alpha1.ReasonNoRetentionCoverage, "Erase", fmt.Sprintf(
			"%s: %d row(s) of table %s are retained until %s, and no RetentionPolicy rule for that table selects this database",
			p.db.Name, tab.Rows, tab.Name, retainedUntil(tab)))
	}
	return nil
}

func retainedUntil(tab *privacyv1alpha1.TableOutcome) string {
	if tab.RetainedUntil == nil {
		return "an unknown date"
	}
	return tab.RetainedUntil.UTC().Format("2006-01-02")
}

func countRows(t *privacyv1alpha1.ErasureTarget) {
	for _, tab := range t.Tables {
		erasureRows.WithLabelValues(tab.Name, tab.Outcome).Add(float64(tab.Rows))
	}
}

func describeTables(tables []privacyv1alpha1.TableOutcome) string {
	parts := make([]string, 0, len(tables))
	for _, tab := range tables {
		parts = append(parts, fmt.Sprintf("%s %s %d", tab.Name, tab.Outcome, tab.Rows))
	}
	return strings.Join(parts, ", ")
}

// retentionCoverage finds the RetentionPolicy rules that apply to a database's tables.
// RetentionPolicies are read as unstructured objects (spec.databaseSelector,
// spec.rules[].name/.table) so that this file depends only on their API, and a cluster
// without the kind simply has no coverage.
type retentionCoverage struct {
	c      client.Client
	db     *privacyv1alpha1.TenantDatabase
	loaded bool
	rules  map[string]string // table → "policy/rule"
}

func (rc *retentionCoverage) ruleFor(ctx context.Context, table string) (string, error) {
	if !rc.loaded {
		if err := rc.load(ctx); err != nil {
			return "", err
		}
	}
	return rc.rules[table], nil
}

func (rc *retentionCoverage) load(ctx context.Context) error {
	rc.loaded, rc.rules = true, map[string]string{}
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(privacyv1alpha1.GroupVersion.WithKind("RetentionPolicyList"))
	if err := rc.c.List(ctx, list, client.InNamespace(rc.db.Namespace)); err != nil {
		if meta.IsNoMatchError(err) || apierrors.IsNotFound(err) {
			return nil
		}
		return err
	}
	for _, policy := range list.Items {
		if !policySelects(policy, rc.db) {
			continue
		}
		rules, _, _ := unstructured.NestedSlice(policy.Object, "spec", "rules")
		for _, raw := range rules {
			rule, _ := raw.(map[string]any)
			table, _ := rule["table"].(string)
			name, _ := rule["name"].(string)
			if _, seen := rc.rules[table]; table != "" && !seen {
				rc.rules[table] = policy.GetName() + "/" + name
			}
		}
	}
	return nil
}

func policySelects(policy unstructured.Unstructured, db *privacyv1alpha1.TenantDatabase) bool {
	raw, found, _ := unstructured.NestedMap(policy.Object, "spec", "databaseSelector")
	if !found {
		return true
	}
	sel := &metav1.LabelSelector{}
	if err := runtimeConverter(raw, sel); err != nil {
		return false
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	return err == nil && s.Matches(labels.Set(db.Labels))
}

func runtimeConverter(raw map[string]any, out any) error {
	return runtime.DefaultUnstructuredConverter.FromUnstructured(raw, out)
}
