package controllers

import (
	"context"
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	privacyv1alpha1 "github.com/lethe-operator/lethe/api/v1alpha1"
	"github.com/lethe-operator/lethe/internal/plan"
	"github.com/lethe-operator/lethe/internal/schedule"
)

const kindRetentionPolicy = "RetentionPolicy"

// RetentionPolicyReconciler runs each RetentionPolicy's rules on its schedule: at each tick
// one Job per selected TenantDatabase, named after the policy, the plan and the tick.
type RetentionPolicyReconciler struct {
	client.Client
	APIReader client.Reader
	Scheme    *runtime.Scheme
	Recorder  events.EventRecorder
	Jobs      JobSettings
	Clock     clock.PassiveClock
}

// +kubebuilder:rbac:groups=privacy.lethe.dev,resources=retentionpolicies,verbs=get;list;watch
// +kubebuilder:rbac:groups=privacy.lethe.dev,resources=retentionpolicies/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=privacy.lethe.dev,resources=tenantdatabases,verbs=get;list;watch
// +kubebuilder:rbac:groups=privacy.lethe.dev,resources=datamaps,verbs=get;list;watch
// +kubebuilder:rbac:groups=batch,resources=jobs,verbs=get;list;watch;create;delete

// SetupWithManager registers the controller and its Job ownership.
func (r *RetentionPolicyReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&privacyv1alpha1.RetentionPolicy{}).
		Owns(&batchv1.Job{}).
		// Whether the selector picks any database is shown before the next tick.
		Watches(&privacyv1alpha1.TenantDatabase{}, handler.EnqueueRequestsFromMapFunc(r.policiesInNamespace),
			builder.WithPredicates(predicate.Or(predicate.LabelChangedPredicate{}, createOrDelete()))).
		Complete(r)
}

// policiesInNamespace maps a TenantDatabase to the RetentionPolicies of its namespace.
func (r *RetentionPolicyReconciler) policiesInNamespace(ctx context.Context, db client.Object) []reconcile.Request {
	list := &privacyv1alpha1.RetentionPolicyList{}
	if err := r.List(ctx, list, client.InNamespace(db.GetNamespace())); err != nil {
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for _, p := range list.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&p)})
	}
	return reqs
}

// createOrDelete passes the creation and deletion of objects, not their updates.
func createOrDelete() predicate.Predicate {
	return predicate.Funcs{UpdateFunc: func(event.UpdateEvent) bool { return false }}
}

// Reconcile runs one pass for a RetentionPolicy; every return path writes the status.
func (r *RetentionPolicyReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, err error) {
	p := &privacyv1alpha1.RetentionPolicy{}
	if err := r.Get(ctx, req.NamespacedName, p); err != nil {
		if apierrors.IsNotFound(err) {
			forgetPolicyMetrics(req.Namespace, req.Name)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	// Series exist from the start, so increase() sees the first failure.
	for _, result := range []string{"succeeded", "failed", "skipped"} {
		retentionRuns.WithLabelValues(p.Namespace, p.Name, result).Add(0)
	}
	base := p.DeepCopy()
	defer func() {
		if patchErr := r.Status().Patch(ctx, p, client.MergeFrom(base)); patchErr != nil && !apierrors.IsNotFound(patchErr) {
			err = patchErr
		}
	}()
	return r.reconcile(ctx, p)
}

func (r *RetentionPolicyReconciler) reconcile(ctx context.Context, p *privacyv1alpha1.RetentionPolicy) (ctrl.Result, error) {
	conds := conditions{list: &p.Status.Conditions, generation: p.Generation}
	sched, err := schedule.Parse(p.Spec.Schedule, p.GetTimeZone())
	if err != nil {
		return ctrl.Result{}, r.stall(p, conds, privacyv1alpha1.ReasonInvalidSchedule, err)
	}
	selector, err := metav1.LabelSelectorAsSelector(&p.Spec.DatabaseSelector)
	if err != nil {
		return ctrl.Result{}, r.stall(p, conds, privacyv1alpha1.ReasonInvalidSelector, fmt.Errorf("spec.databaseSelector: %w", err))
	}
	// A run under way is followed to its end, even when the policy was suspended since.
	if p.Status.Current != nil {
		if err := r.collect(ctx, p); err != nil {
			return ctrl.Result{}, err
		}
	}
	dbs, err := r.selectedDatabases(ctx, p, selector)
	if err != nil {
		return ctrl.Result{}, err
	}
	if p.Spec.Suspend {
		conds.set(privacyv1alpha1.ConditionSuspended, metav1.ConditionTrue, privacyv1alpha1.ReasonSuspended, "spec.suspend is true: no runs start")
		p.Status.NextRunTime = nil
		r.summarise(p, conds, len(dbs))
		return ctrl.Result{}, nil
	}
	conds.set(privacyv1alpha1.ConditionSuspended, metav1.ConditionFalse, privacyv1alpha1.ReasonScheduled, "runs start on schedule")

	now := r.Clock.Now()
	if tick, trigger, due := dueRun(p, sched, now); due {
		if err := r.startOrSkip(ctx, p, dbs, tick, trigger); err != nil {
			return ctrl.Result{}, err
		}
	}
	next := sched.Next(now)
	p.Status.NextRunTime = &metav1.Time{Time: next}
	r.summarise(p, conds, len(dbs))
	return ctrl.Result{RequeueAfter: next.Sub(now)}, nil
}

// stall marks a spec error that needs a person: Stalled with the reason, one Event when it
// starts, and no requeue (a change to the policy brings it back).
func (r *RetentionPolicyReconciler) stall(p *privacyv1alpha1.RetentionPolicy, conds conditions, reason string, err error) error {
	if !stalledWith(p.Status.Conditions, reason) {
		r.event(p, corev1.EventTypeWarning, reason, err.Error())
	}
	conds.stalled(reason, err.Error())
	p.Status.ObservedGeneration = p.Generation
	return reconcile.TerminalError(err)
}

// startOrSkip starts the run for a tick, unless the last run is still going (Forbid). The
// tick or run-now request is marked as acted on only once its run has started, so a run
// that could not start is tried again rather than consumed without a word.
func (r *RetentionPolicyReconciler) startOrSkip(ctx context.Context, p *privacyv1alpha1.RetentionPolicy,
	dbs []privacyv1alpha1.TenantDatabase, tick time.Time, trigger string) error {
	if p.Status.Current != nil {
		markTriggered(p, tick, trigger)
		msg := fmt.Sprintf("run for %s skipped: the run for %s is still going (concurrencyPolicy Forbid)",
			tick.UTC().Format(time.RFC3339), p.Status.Current.ScheduledTime.UTC().Format(time.RFC3339))
		retentionRuns.WithLabelValues(p.Namespace, p.Name, "skipped").Inc()
		r.event(p, corev1.EventTypeWarning, "RunSkipped", msg)
		return nil
	}
	run, err := r.start(ctx, p, dbs, tick, trigger)
	if err != nil {
		return err
	}
	markTriggered(p, tick, trigger)
	p.Status.Current = run
	if len(run.Databases) > 0 {
		r.event(p, corev1.EventTypeNormal, "RunStarted", fmt.Sprintf("%s run for %s started on %d database(s)",
			runKind(p), tick.UTC().Format(time.RFC3339), len(run.Databases)))
	}
	return r.collect(ctx, p)
}

// markTriggered records that a tick or run-now request was acted on, so it is not
// acted on again after a restart.
func markTriggered(p *privacyv1alpha1.RetentionPolicy, tick time.Time, trigger string) {
	if trigger == scheduleTrigger {
		p.Status.LastScheduledTime = &metav1.Time{Time: tick}
		return
	}
	p.Status.LastRunNow = trigger[len(runNowTrigger):]
}

// summarise sets Ready, Reconciling and Stalled from the current run, the last finished
// one and how many databases the selector picks. A run that failed for a reason only a
// person can fix (a rule refused, a DataMap missing, a plan too large) is Stalled with
// that reason; a selector that picks no database is a warning, not a success.
func (r *RetentionPolicyReconciler) summarise(p *privacyv1alpha1.RetentionPolicy, conds conditions, selected int) {
	p.Status.ObservedGeneration = p.Generation
	switch {
	case p.Status.Current != nil:
		conds.reconciling(privacyv1alpha1.ReasonRunning, fmt.Sprintf("run for %s is under way",
			p.Status.Current.ScheduledTime.UTC().Format(time.RFC3339)))
	case len(p.Status.History) > 0 && p.Status.History[0].Result == privacyv1alpha1.RunFailed:
		reason, msg := failureSummary(p.Status.History[0])
		if fixedRunReason(reason) {
			conds.stalled(reason, msg)
		} else {
			conds.notReady(privacyv1alpha1.ReasonRunFailed, msg)
		}
	case p.Spec.Suspend:
		conds.ready(privacyv1alpha1.ReasonSuspended, "suspended")
	case selected == 0:
		msg := fmt.Sprintf("the databaseSelector matches no TenantDatabase in namespace %s: runs have nothing to work on", p.Namespace)
		if reasonOf(p.Status.Conditions, privacyv1alpha1.ConditionReady) != privacyv1alpha1.ReasonNoDatabases {
			r.event(p, corev1.EventTypeWarning, privacyv1alpha1.ReasonNoDatabases, msg)
		}
		conds.notReady(privacyv1alpha1.ReasonNoDatabases, msg)
	default:
		msg := "waiting for the next run"
		if p.Status.NextRunTime != nil {
			msg = "next run at " + p.Status.NextRunTime.UTC().Format(time.RFC3339)
		}
		conds.ready(privacyv1alpha1.ReasonScheduled, msg)
	}
}

// failureSummary is the reason and message of a failed run: its first failed database's.
func failureSummary(run privacyv1alpha1.Run) (reason, message string) {
	for _, db := range run.Databases {
		if db.Result == privacyv1alpha1.RunFailed {
			return db.Reason, fmt.Sprintf("the run for %s failed on database %s: %s",
				run.ScheduledTime.UTC().Format(time.RFC3339), db.Database, db.Message)
		}
	}
	return "", "the last run failed"
}

// fixedRunReason says whether a database run that failed for this reason needs a person:
// the controller's own refusals, and the worker's codes a retry cannot change.
func fixedRunReason(reason string) bool {
	switch reason {
	case "":
		return false
	case privacyv1alpha1.ReasonDataMapNotFound, privacyv1alpha1.ReasonRuleTableNotMapped, privacyv1alpha1.ReasonPlanTooLarge:
		return true
	}
	return !plan.Retryable(reason)
}

func runKind(p *privacyv1alpha1.RetentionPolicy) string {
	if p.Spec.DryRun {
		return "dry"
	}
	return "retention"
}

func (r *RetentionPolicyReconciler) event(obj runtime.Object, typ, reason, msg string) {
	if r.Recorder != nil {
		r.Recorder.Eventf(obj, nil, typ, reason, "Retention", "%s", msg)
	}
}
