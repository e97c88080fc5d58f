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
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	privacyv1alpha1 "github.com/lethe-operator/lethe/api/v1alpha1"
	"github.com/lethe-operator/lethe/internal/plan"
)

const (
	kindTenantDatabase = "TenantDatabase"
	// dataMapRefIndex indexes TenantDatabases by the DataMap they use.
	dataMapRefIndex = ".spec.dataMapRef"
	// hostedByIndex indexes TenantDatabases by the Subprocessors that host them.
	hostedByIndex = ".spec.hostedBy"
	// retryUnreachable is how soon an unreachable database is tried again.
	retryUnreachable = 5 * time.Minute
	// recheckSecrets is how soon a missing Secret is looked for again.
	recheckSecrets = time.Minute
	maxMismatches  = 50
)

// TenantDatabaseReconciler verifies each TenantDatabase's schema against its DataMap in a
// worker Job: when the spec or the DataMap changes, when asked, and every verifyInterval.
type TenantDatabaseReconciler struct {
	client.Client
	// APIReader reads Pods and Secret metadata uncached, so the manager caches neither.
	APIReader client.Reader
	Scheme    *runtime.Scheme
	Recorder  events.EventRecorder
	Jobs      JobSettings
	Clock     clock.PassiveClock
}

// +kubebuilder:rbac:groups=privacy.lethe.dev,resources=tenantdatabases,verbs=get;list;watch
// +kubebuilder:rbac:groups=privacy.lethe.dev,resources=tenantdatabases/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=privacy.lethe.dev,resources=datamaps,verbs=get;list;watch
// +kubebuilder:rbac:groups=privacy.lethe.dev,resources=subprocessors,verbs=get;list;watch
// +kubebuilder:rbac:groups=batch,resources=jobs,verbs=get;list;watch;create;delete
// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get;list;watch;create
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get

// SetupWithManager registers the controller, its Job ownership and the DataMap watch.
func (r *TenantDatabaseReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &privacyv1alpha1.TenantDatabase{}, dataMapRefIndex,
		func(o client.Object) []string { return []string{o.(*privacyv1alpha1.TenantDatabase).Spec.DataMapRef} }); err != nil {
		return err
	}
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &privacyv1alpha1.TenantDatabase{}, hostedByIndex,
		func(o client.Object) []string { return o.(*privacyv1alpha1.TenantDatabase).Spec.HostedBy }); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&privacyv1alpha1.TenantDatabase{}).
		Owns(&batchv1.Job{}).
		Watches(&privacyv1alpha1.DataMap{}, handler.EnqueueRequestsFromMapFunc(r.databasesUsing)).
		// The hosting verdict is judged from the Subprocessor's spec.
		Watches(&privacyv1alpha1.Subprocessor{}, handler.EnqueueRequestsFromMapFunc(r.databasesHostedBy),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Complete(r)
}

// databasesHostedBy maps a Subprocessor to the TenantDatabases it hosts, in every namespace.
func (r *TenantDatabaseReconciler) databasesHostedBy(ctx context.Context, sp client.Object) []reconcile.Request {
	list := &privacyv1alpha1.TenantDatabaseList{}
	if err := r.List(ctx, list, client.MatchingFields{hostedByIndex: sp.GetName()}); err != nil {
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for _, db := range list.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&db)})
	}
	return reqs
}

// databasesUsing maps a DataMap to the TenantDatabases that use it.
func (r *TenantDatabaseReconciler) databasesUsing(ctx context.Context, dm client.Object) []reconcile.Request {
	list := &privacyv1alpha1.TenantDatabaseList{}
	if err := r.List(ctx, list, client.InNamespace(dm.GetNamespace()), client.MatchingFields{dataMapRefIndex: dm.GetName()}); err != nil {
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for _, db := range list.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&db)})
	}
	return reqs
}

// Reconcile runs one pass for a TenantDatabase; every return path writes the status.
func (r *TenantDatabaseReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, err error) {
	db := &privacyv1alpha1.TenantDatabase{}
	if err := r.Get(ctx, req.NamespacedName, db); err != nil {
		if apierrors.IsNotFound(err) {
			schemaVerified.DeleteLabelValues(req.Namespace, req.Name)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	base := db.DeepCopy()
	defer func() {
		if patchErr := r.Status().Patch(ctx, db, client.MergeFrom(base)); patchErr != nil && !apierrors.IsNotFound(patchErr) {
			err = patchErr
		}
	}()
	result, err = r.reconcile(ctx, db)
	return r.withDraft(ctx, db, result, err)
}

func (r *TenantDatabaseReconciler) reconcile(ctx context.Context, db *privacyv1alpha1.TenantDatabase) (ctrl.Result, error) {
	conds := conditions{list: &db.Status.Conditions, generation: db.Generation}
	dm := &privacyv1alpha1.DataMap{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: db.Namespace, Name: db.Spec.DataMapRef}, dm); err != nil {
		if !apierrors.IsNotFound(err) {
			return ctrl.Result{}, err
		}
		msg := fmt.Sprintf("DataMap %q not found in namespace %s", db.Spec.DataMapRef, db.Namespace)
		r.stall(db, conds, privacyv1alpha1.ReasonDataMapNotFound, msg)
		return ctrl.Result{}, nil // the DataMap watch brings us back
	}
	hosting, err := SubprocessorHostingConditions(ctx, r.Client, db.Generation, db.Spec.HostedBy, DataMapCategories(dm))
	if err != nil {
		return ctrl.Result{}, err
	}
	SetSubprocessorHostingConditions(&db.Status.Conditions, hosting)
	if missing, err := r.missingSecret(ctx, db, dm); err != nil {
		return ctrl.Result{}, err
	} else if missing != "" {
		r.stall(db, conds, privacyv1alpha1.ReasonSecretNotFound, fmt.Sprintf("Secret %q not found in namespace %s", missing, db.Namespace))
		return ctrl.Result{RequeueAfter: recheckSecrets}, nil
	}

	w := r.verifyWork(db, dm)
	cm, job, err := BuildJob(r.Jobs, w)
	var tooLarge *PlanTooLargeError
	if errors.As(err, &tooLarge) {
		// No Job can read this plan: say so in every condition a user looks at, rather
		// than keep the last verification's verdict, and wait for the DataMap to change.
		conds.set(privacyv1alpha1.ConditionSchemaVerified, metav1.ConditionUnknown, privacyv1alpha1.ReasonPlanTooLarge, tooLarge.Error())
		r.stall(db, conds, privacyv1alpha1.ReasonPlanTooLarge, tooLarge.Error())
		return ctrl.Result{}, reconcile.TerminalError(err)
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	hash := job.Annotations[AnnotationPlanHash]
	trigger := db.Annotations[privacyv1alpha1.VerifyNowAnnotation]
	now := r.Clock.Now()
	var result ctrl.Result
	if due, next := r.verificationDue(db, hash, trigger, now); !due {
		db.Status.NextVerificationTime = &metav1.Time{Time: next}
		db.Status.ObservedGeneration = db.Generation
		result = ctrl.Result{RequeueAfter: next.Sub(now)}
	} else if result, err = r.verify(ctx, db, conds, cm, job, hash, trigger); err != nil {
		return result, err
	}
	// A transfer without a legal basis needs a person, whatever the schema says.
	if c := hosting[0]; c.Status == metav1.ConditionFalse {
		conds.stalled(c.Reason, c.Message)
	}
	return result, nil
}

// verifyWork is the verify plan for the database.
func (r *TenantDatabaseReconciler) verifyWork(db *privacyv1alpha1.TenantDatabase, dm *privacyv1alpha1.DataMap) WorkerJob {
	w := WorkerJob{
		Owner: db, OwnerKind: kindTenantDatabase, Database: db, HashKey: dm.Spec.HashKeySecretRef,
		Plan: plan.Plan{Kind: plan.KindVerify, DataMap: dataMapPlan(dm), Now: r.Clock.Now().UTC()},
	}
	// A new run after each finished one: the key changes when a verification completes.
	w.Key = db.Annotations[privacyv1alpha1.VerifyNowAnnotation]
	if last := db.Status.LastVerification; last != nil {
		w.Key += "/" + last.CompletedAt.UTC().Format(time.RFC3339)
	}
	return w
}

// verificationDue says whether to verify now, or else when next.
func (r *TenantDatabaseReconciler) verificationDue(db *privacyv1alpha1.TenantDatabase, hash, trigger string, now time.Time) (bool, time.Time) {
	last := db.Status.LastVerification
	if last == nil || last.PlanHash != hash || last.Trigger != trigger {
		return true, now
	}
	interval := db.GetVerifyInterval()
	if !meta.IsStatusConditionTrue(db.Status.Conditions, privacyv1alpha1.ConditionSchemaVerified) && reasonOf(db.Status.Conditions, privacyv1alpha1.ConditionReady) == privacyv1alpha1.ReasonDatabaseUnreachable {
		interval = min(interval, retryUnreachable)
	}
	next := last.CompletedAt.Add(interval)
	return !now.Before(next), next
}

// verify runs (or keeps waiting for) the verification Job and records its outcome.
func (r *TenantDatabaseReconciler) verify(ctx context.Context, db *privacyv1alpha1.TenantDatabase, conds conditions,
	cm *corev1.ConfigMap, job *batchv1.Job, hash, trigger string) (ctrl.Result, error) {
	// One verification at a time per database: an older one still running finishes first.
	active, err := activeJobs(ctx, r.Client, db.Namespace, kindTenantDatabase, db.Name, plan.KindVerify)
	if err != nil {
		return ctrl.Result{}, err
	}
	for _, other := range active {
		if other.Name != job.Name {
			conds.reconciling(privacyv1alpha1.ReasonVerifying, fmt.Sprintf("waiting for verification Job %s to finish", other.Name))
			return ctrl.Result{}, nil
		}
	}
	live, err := ensureJob(ctx, r.Client, r.Scheme, db, cm, job)
	if err != nil {
		return ctrl.Result{}, err
	}
	finished, _ := jobFinished(live)
	if !finished {
		conds.reconciling(privacyv1alpha1.ReasonVerifying, fmt.Sprintf("schema verification Job %s is running", live.Name))
		return ctrl.Result{}, nil // the Job watch brings us back
	}
	report, reportErr := readReport(ctx, r.APIReader, live)
	completed := metav1.Time{Time: r.Clock.Now()}
	if live.Status.CompletionTime != nil {
		completed = *live.Status.CompletionTime
	} else if c := finishedAt(live); c != nil {
		completed = *c
	}
	db.Status.LastVerification = &privacyv1alpha1.Verification{PlanHash: hash, Trigger: trigger, CompletedAt: completed, Job: live.Name}
	r.recordVerification(db, conds, live, report, reportErr)
	db.Status.ObservedGeneration = db.Generation
	due, next := r.verificationDue(db, hash, trigger, r.Clock.Now())
	db.Status.NextVerificationTime = &metav1.Time{Time: next}
	if due {
		return ctrl.Result{RequeueAfter: time.Second}, nil
	}
	return ctrl.Result{RequeueAfter: next.Sub(r.Clock.Now())}, nil
}

// recordVerification turns the worker's report into conditions, mismatches and an Event.
func (r *TenantDatabaseReconciler) recordVerification(db *privacyv1alpha1.TenantDatabase, conds conditions,
	job *batchv1.Job, report *plan.Report, reportErr error) {
	db.Status.Mismatches = nil
	switch {
	case reportErr != nil:
		msg := fmt.Sprintf("verification Job %s failed: %v %s", job.Name, reportErr, jobFailureMessage(job))
		conds.set(privacyv1alpha1.ConditionSchemaVerified, metav1.ConditionUnknown, privacyv1alpha1.ReasonVerificationFailed, msg)
		conds.notReady(privacyv1alpha1.ReasonVerificationFailed, msg)
		r.event(db, corev1.EventTypeWarning, privacyv1alpha1.ReasonVerificationFailed, msg)
	case len(report.Mismatches) > 0:
		for _, m := range report.Mismatches {
			if len(db.Status.Mismatches) < maxMismatches {
				db.Status.Mismatches = append(db.Status.Mismatches, privacyv1alpha1.SchemaMismatch{Table: m.Table, Column: m.Column, Code: m.Code, Message: m.Message})
			}
		}
		msg := mismatchSummary(report.Mismatches)
		conds.set(privacyv1alpha1.ConditionSchemaVerified, metav1.ConditionFalse, privacyv1alpha1.ReasonSchemaMismatch, msg)
		conds.stalled(privacyv1alpha1.ReasonSchemaMismatch, msg)
		r.event(db, corev1.EventTypeWarning, privacyv1alpha1.ReasonSchemaMismatch, msg)
		schemaVerified.WithLabelValues(db.Namespace, db.Name).Set(0)
	case len(report.Errors) > 0 || !report.Succeeded:
		reason, msg := reportFailure(report)
		conds.set(privacyv1alpha1.ConditionSchemaVerified, metav1.ConditionUnknown, reason, msg)
		if reason == privacyv1alpha1.ReasonDatabaseUnreachable {
			conds.notReady(reason, msg)
		} else {
			conds.stalled(reason, msg)
		}
		r.event(db, corev1.EventTypeWarning, reason, msg)
	default:
		msg := "the live schema matches the DataMap"
		wasVerified := meta.IsStatusConditionTrue(db.Status.Conditions, privacyv1alpha1.ConditionSchemaVerified)
		conds.set(privacyv1alpha1.ConditionSchemaVerified, metav1.ConditionTrue, privacyv1alpha1.ReasonSchemaMatches, msg)
		conds.ready(privacyv1alpha1.ReasonSchemaMatches, msg)
		schemaVerified.WithLabelValues(db.Namespace, db.Name).Set(1)
		if !wasVerified {
			r.event(db, corev1.EventTypeNormal, privacyv1alpha1.ReasonSchemaMatches, msg)
		}
	}
}

// reportFailure maps the worker's error codes to a condition reason and message.
func reportFailure(report *plan.Report) (string, string) {
	if len(report.Errors) == 0 {
		return privacyv1alpha1.ReasonVerificationFailed, "the worker reported failure without an error"
	}
	e := report.Errors[0]
	reason := privacyv1alpha1.ReasonVerificationFailed
	switch e.Code {
	case plan.ErrUnreachable, plan.ErrTimeout:
		reason = privacyv1alpha1.ReasonDatabaseUnreachable
	case plan.ErrAuthentication:
		reason = privacyv1alpha1.ReasonAuthenticationFailed
	case plan.ErrHostNotAllowed:
		reason = privacyv1alpha1.ReasonHostNotAllowed
	}
	return reason, fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func mismatchSummary(ms []plan.Mismatch) string {
	parts := make([]string, 0, 5)
	for i, m := range ms {
		if i == 5 {
			parts = append(parts, fmt.Sprintf("and %d more (see status.mismatches)", len(ms)-5))
			break
		}
		where := m.Table
		if m.Column != "" {
			where += "." + m.Column
		}
		parts = append(parts, fmt.Sprintf("%s: %s", where, m.Message))
	}
	return fmt.Sprintf("%d mismatch(es) between the DataMap and the live schema: %s", len(ms), strings.Join(parts, "; "))
}

// missingSecret returns the name of the first Secret the worker needs that does not
// exist. Only metadata is read: the manager never holds the credentials.
func (r *TenantDatabaseReconciler) missingSecret(ctx context.Context, db *privacyv1alpha1.TenantDatabase, dm *privacyv1alpha1.DataMap) (string, error) {
	names := []string{db.Spec.CredentialsSecretRef.Name}
	if db.Spec.TLS != nil && db.Spec.TLS.CASecretRef != nil {
		names = append(names, db.Spec.TLS.CASecretRef.Name)
	}
	if dm.Spec.HashKeySecretRef != nil {
		names = append(names, dm.Spec.HashKeySecretRef.Name)
	}
	for _, name := range names {
		meta := &metav1.PartialObjectMetadata{}
		meta.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
		err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: db.Namespace, Name: name}, meta)
		if apierrors.IsNotFound(err) {
			return name, nil
		}
		if err != nil {
			return "", err
		}
	}
	return "", nil
}

func (r *TenantDatabaseReconciler) stall(db *privacyv1alpha1.TenantDatabase, conds conditions, reason, msg string) {
	if !stalledWith(db.Status.Conditions, reason) {
		r.event(db, corev1.EventTypeWarning, reason, msg)
	}
	conds.stalled(reason, msg)
	db.Status.ObservedGeneration = db.Generation
}

func (r *TenantDatabaseReconciler) event(obj runtime.Object, typ, reason, msg string) {
	if r.Recorder != nil {
		r.Recorder.Eventf(obj, nil, typ, reason, "Verify", "%s", msg)
	}
}

func finishedAt(job *batchv1.Job) *metav1.Time {
	for _, c := range job.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return &c.LastTransitionTime
		}
	}
	return nil
}
