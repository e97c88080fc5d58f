package controllers

import (
	"context"
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	privacyv1alpha1 "github.com/lethe-operator/lethe/api/v1alpha1"
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
		Complete(r)
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
	sched, err := parseSchedule(p.Spec.Schedule, p.GetTimeZone())
	if err != nil {
		if !meta.IsStatusConditionTrue(p.Status.Conditions, privacyv1alpha1.ConditionStalled) {
			r.event(p, corev1.EventTypeWarning, privacyv1alpha1.ReasonInvalidSchedule, err.Error())
		}
		conds.stalled(privacyv1alpha1.ReasonInvalidSchedule, err.Error())
		p.Status.ObservedGeneration = p.Generation
		return ctrl.Result{}, reconcile.TerminalError(err)
	}
	// A run under way is followed to its end, even when the policy was suspended since.
	if p.Status.Current != nil {
		if err := r.collect(ctx, p); err != nil {
			return ctrl.Result{}, err
		}
	}
	if p.Spec.Suspend {
		conds.set(privacyv1alpha1.ConditionSuspended, metav1.ConditionTrue, privacyv1alpha1.ReasonSuspended, "spec.suspend is true: no runs start")
		p.Status.NextRunTime = nil
		r.summarise(p, conds)
		return ctrl.Result{}, nil
	}
	conds.set(privacyv1alpha1.ConditionSuspended, metav1.ConditionFalse, privacyv1alpha1.ReasonScheduled, "runs start on schedule")

	now := r.Clock.Now()
	if tick, trigger, due := dueRun(p, sched, now); due {
		if err := r.startOrSkip(ctx, p, tick, trigger); err != nil {
			return ctrl.Result{}, err
		}
	}
	next := sched.next(now)
	p.Status.NextRunTime = &metav1.Time{Time: next}
	r.summarise(p, conds)
	return ctrl.Result{RequeueAfter: next.Sub(now)}, nil
}

// startOrSkip starts the run for a tick, unless the last run is still going (Forbid).
func (r *RetentionPolicyReconciler) startOrSkip(ctx context.Context, p *privacyv1alpha1.RetentionPolicy, tick time.Time, trigger string) error {
	markTriggered(p, tick, trigger)
	if p.Status.Current != nil {
		msg := fmt.Sprintf("run for %s skipped: the run for %s is still going (concurrencyPolicy Forbid)",
			tick.UTC().Format(time.RFC3339), p.Status.Current.ScheduledTime.UTC().Format(time.RFC3339))
		retentionRuns.WithLabelValues(p.Namespace, p.Name, "skipped").Inc()
		r.event(p, corev1.EventTypeWarning, "RunSkipped", msg)
		return nil
	}
	run, err := r.start(ctx, p, tick, trigger)
	if err != nil {
		return err
	}
	p.Status.Current = run
	r.event(p, corev1.EventTypeNormal, "RunStarted", fmt.Sprintf("%s run for %s started on %d database(s)",
		runKind(p), tick.UTC().Format(time.RFC3339), len(run.Databases)))
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

// summarise sets Ready and Reconciling from the current run and the last finished one.
func (r *RetentionPolicyReconciler) summarise(p *privacyv1alpha1.RetentionPolicy, conds conditions) {
	p.Status.ObservedGeneration = p.Generation
	switch {
	case p.Status.Current != nil:
		conds.reconciling(privacyv1alpha1.ReasonRunning, fmt.Sprintf("run for %s is under way",
			p.Status.Current.ScheduledTime.UTC().Format(time.RFC3339)))
	case len(p.Status.History) > 0 && p.Status.History[0].Result == privacyv1alpha1.RunFailed:
		conds.notReady(privacyv1alpha1.ReasonRunFailed, failureSummary(p.Status.History[0]))
	case p.Spec.Suspend:
		conds.ready(privacyv1alpha1.ReasonSuspended, "suspended")
	default:
		msg := "waiting for the next run"
		if p.Status.NextRunTime != nil {
			msg = "next run at " + p.Status.NextRunTime.UTC().Format(time.RFC3339)
		}
		conds.ready(privacyv1alpha1.ReasonScheduled, msg)
	}
}

func failureSummary(run privacyv1alpha1.Run) string {
	for _, db := range run.Databases {
		if db.Result == privacyv1alpha1.RunFailed {
			return fmt.Sprintf("the run for %s failed on database %s: %s",
				run.ScheduledTime.UTC().Format(time.RFC3339), db.Database, db.Message)
		}
	}
	return "the last run failed"
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
