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
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	privacyv1alpha1 "github.com/lethe-operator/lethe/api/v1alpha1"
	"github.com/lethe-operator/lethe/internal/duration"
)

const (
	kindAccessRequest = "AccessRequest"
	// accessRetryBackoff is the wait before retrying a failed export, doubled per attempt.
	accessRetryBackoff = 10 * time.Second
)

// AccessRequestReconciler answers AccessRequests: one export Job per selected database,
// each delivering its export into a Secret owned by the request, which the worker creates
// itself so that no personal data passes through the manager. It keeps the fingerprint,
// deadline, conditions and phase, and deletes the Secrets once expireAfter has passed.
type AccessRequestReconciler struct {
	client.Client
	// APIReader reads Pods and Secret metadata uncached: the manager caches no Secret.
	APIReader         client.Reader
	Scheme            *runtime.Scheme
	Recorder          events.EventRecorder
	Jobs              JobSettings
	Clock             clock.PassiveClock
	OperatorNamespace string
	// FingerprintKeySecret names the Secret holding the fingerprint key (key "key"),
	// the same as ErasureRequests use.
	FingerprintKeySecret string
}

// +kubebuilder:rbac:groups=privacy.lethe.dev,resources=accessrequests,verbs=get;list;watch
// +kubebuilder:rbac:groups=privacy.lethe.dev,resources=accessrequests/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=privacy.lethe.dev,resources=tenantdatabases,verbs=get;list;watch
// +kubebuilder:rbac:groups=privacy.lethe.dev,resources=datamaps,verbs=get;list;watch
// +kubebuilder:rbac:groups=batch,resources=jobs,verbs=get;list;watch;create;delete
// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get;list;watch;create
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list
// The manager reads export Secrets' metadata (their owner) and deletes them on expiry;
// the export Jobs' ServiceAccount creates them (config/rbac/exporter_rbac.yaml).
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;delete

// SetupWithManager registers the controller, its Jobs and the TenantDatabase watch.
func (r *AccessRequestReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	if r.FingerprintKeySecret == "" {
		r.FingerprintKeySecret = DefaultFingerprintKeySecret
	}
	return ctrl.NewControllerManagedBy(mgr).
		// Its own status writes do not wake the controller: a retry waits its backoff.
		For(&privacyv1alpha1.AccessRequest{}, builder.WithPredicates(
			predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Owns(&batchv1.Job{}).
		Watches(&privacyv1alpha1.TenantDatabase{}, handler.EnqueueRequestsFromMapFunc(r.requestsInNamespace)).
		WithOptions(controller.Options{MaxConcurrentReconciles: 4}).
		Complete(r)
}

// requestsInNamespace maps a TenantDatabase to the unfinished requests of its namespace.
func (r *AccessRequestReconciler) requestsInNamespace(ctx context.Context, obj client.Object) []reconcile.Request {
	list := &privacyv1alpha1.AccessRequestList{}
	if err := r.List(ctx, list, client.InNamespace(obj.GetNamespace())); err != nil {
		return nil
	}
	var reqs []reconcile.Request
	for _, ar := range list.Items {
		if !meta.IsStatusConditionTrue(ar.Status.Conditions, privacyv1alpha1.ConditionComplete) {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&ar)})
		}
	}
	return reqs
}

// Reconcile runs one pass for an AccessRequest; every return path writes the status.
func (r *AccessRequestReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, err error) {
	ar := &privacyv1alpha1.AccessRequest{}
	if err := r.Get(ctx, req.NamespacedName, ar); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	base := ar.DeepCopy()
	oldPhase := ar.Status.Phase
	defer func() {
		if ar.Status.Phase != oldPhase && ar.Status.Phase != "" {
			r.event(ar, corev1.EventTypeNormal, "Phase"+string(ar.Status.Phase), "Phase",
				fmt.Sprintf("phase %s (databases done: %s)", ar.Status.Phase, ar.Status.Databases))
		}
		patch := client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})
		if patchErr := r.Status().Patch(ctx, ar, patch); patchErr != nil && !apierrors.IsNotFound(patchErr) {
			if apierrors.IsConflict(patchErr) {
				result, err = ctrl.Result{Requeue: true}, nil
				return
			}
			err = patchErr
		}
	}()
	return r.reconcile(ctx, ar)
}

func (r *AccessRequestReconciler) reconcile(ctx context.Context, ar *privacyv1alpha1.AccessRequest) (ctrl.Result, error) {
	conds := conditions{list: &ar.Status.Conditions, generation: ar.Generation}
	now := r.Clock.Now()
	deadline := erasureDeadline(ar.CreationTimestamp.Time, ar.GetExtensionMonths())
	ar.Status.Deadline = &metav1.Time{Time: deadline}
	expireAfter, err := duration.Parse(string(ar.GetExpireAfter()))
	if err != nil {
		r.stall(ar, conds, privacyv1alpha1.ReasonInvalidExpireAfter,
			fmt.Sprintf("spec.expireAfter %q is not an ISO 8601 duration such as P30D: %v", ar.GetExpireAfter(), err))
		return ctrl.Result{}, nil
	}

	if meta.IsStatusConditionTrue(ar.Status.Conditions, privacyv1alpha1.ConditionComplete) {
		// A completed request is a record; only its export's expiry is still to come.
		ar.Status.ObservedGeneration = ar.Generation
		return r.expire(ctx, ar, conds, now)
	}
	requeue := min(deadline.Sub(now), recheckDeadline)
	if requeue <= 0 {
		requeue = recheckDeadline
	}
	if ar.Status.Phase != privacyv1alpha1.AccessNotFound {
		// A request searched for in vain is finished: its deadline no longer runs.
		r.checkDeadline(ar, conds, now, deadline)
	}
	if stalled, err := r.checkSubject(ctx, ar, conds); err != nil || stalled {
		return ctrl.Result{RequeueAfter: min(requeue, recheckSecrets)}, err
	}
	dbs, err := selectDatabases(ctx, r.Client, subjectRequest(ar.Namespace, ar.Spec.Subject, ar.Spec.DatabaseSelector))
	if err != nil {
		return ctrl.Result{}, err
	}
	// After a failure that retrying will not fix, no new Job starts; running ones are
	// let finish and whatever they deliver is withdrawn.
	withdrawing := anyFailed(ar, dbs)
	for i := range dbs {
		if err := r.exportFrom(ctx, ar, &dbs[i], !withdrawing); err != nil {
			return ctrl.Result{}, err
		}
	}
	if err := r.summarise(ctx, ar, conds, dbs, now, expireAfter); err != nil {
		return ctrl.Result{}, err
	}
	if meta.IsStatusConditionTrue(ar.Status.Conditions, privacyv1alpha1.ConditionComplete) {
		return r.expire(ctx, ar, conds, now)
	}
	// A failed run's retry is a new Job, started on the next pass.
	for _, db := range dbs {
		if t := ar.Status.GetTarget(db.Name); t != nil && t.State == privacyv1alpha1.ExportRetrying {
			requeue = min(requeue, erasureBackoff(accessRetryBackoff, t.Attempts))
		}
	}
	return ctrl.Result{RequeueAfter: requeue}, nil
}

// checkDeadline sets DeadlineExceeded, with a Warning Event when it first passes.
func (r *AccessRequestReconciler) checkDeadline(ar *privacyv1alpha1.AccessRequest, conds conditions, now, deadline time.Time) {
	if now.Before(deadline) {
		conds.set(privacyv1alpha1.ConditionDeadlineExceeded, metav1.ConditionFalse, privacyv1alpha1.ReasonWithinDeadline,
			fmt.Sprintf("the deadline is %s", deadline.UTC().Format(time.RFC3339)))
		return
	}
	msg := fmt.Sprintf("the deadline %s passed before the export was complete", deadline.UTC().Format(time.RFC3339))
	if !meta.IsStatusConditionTrue(ar.Status.Conditions, privacyv1alpha1.ConditionDeadlineExceeded) {
		r.event(ar, corev1.EventTypeWarning, privacyv1alpha1.ReasonDeadlinePassed, "Deadline", msg)
	}
	conds.set(privacyv1alpha1.ConditionDeadlineExceeded, metav1.ConditionTrue, privacyv1alpha1.ReasonDeadlinePassed, msg)
}

// checkSubject fingerprints the identifier once (the ErasureRequest way) and, on every
// pass, checks that the Secret holding it still exists: the worker reads it from there.
func (r *AccessRequestReconciler) checkSubject(ctx context.Context, ar *privacyv1alpha1.AccessRequest, conds conditions) (stalled bool, err error) {
	if ar.Status.SubjectFingerprint == "" {
		fp, reason, msg, err := subjectFingerprint(ctx, r.APIReader, r.OperatorNamespace, r.FingerprintKeySecret, ar.Namespace, ar.Spec.Subject,
			ar.Spec.DatabaseSelector)
		if err != nil || reason != "" {
			if reason != "" {
				r.stall(ar, conds, reason, msg)
			}
			return true, err
		}
		ar.Status.SubjectFingerprint = fp
		r.event(ar, corev1.EventTypeNormal, "Fingerprinted", "Fingerprint", "subject fingerprint "+fp)
		return false, nil
	}
	ref := ar.Spec.Subject.SecretRef
	exists, err := secretExists(ctx, r.APIReader, ar.Namespace, ref.Name)
	if err != nil {
		return true, err
	}
	if !exists {
		r.stall(ar, conds, privacyv1alpha1.ReasonSubjectSecretNotFound,
			fmt.Sprintf("Secret %q holding the subject's identifier was not found in namespace %s: the worker cannot read the identifier", ref.Name, ar.Namespace))
		return true, nil
	}
	return false, nil
}

// secretExists reads only the Secret's metadata: the manager never holds its data.
func secretExists(ctx context.Context, r client.Reader, namespace, name string) (bool, error) {
	_, err := secretMeta(ctx, r, namespace, name)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	return err == nil, err
}

func secretMeta(ctx context.Context, r client.Reader, namespace, name string) (*metav1.PartialObjectMetadata, error) {
	meta := &metav1.PartialObjectMetadata{}
	meta.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	return meta, r.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, meta)
}

func (r *AccessRequestReconciler) stall(ar *privacyv1alpha1.AccessRequest, conds conditions, reason, msg string) {
	if !stalledWith(ar.Status.Conditions, reason) {
		r.event(ar, corev1.EventTypeWarning, reason, "Validate", msg)
	}
	conds.stalled(reason, msg)
	conds.set(privacyv1alpha1.ConditionComplete, metav1.ConditionFalse, reason, msg)
	ar.Status.Phase = privacyv1alpha1.AccessFailed
	ar.Status.ObservedGeneration = ar.Generation
}

func (r *AccessRequestReconciler) event(obj runtime.Object, typ, reason, action, msg string) {
	if r.Recorder != nil {
		r.Recorder.Eventf(obj, nil, typ, reason, action, "%s", msg)
	}
}
