package controllers

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	privacyv1alpha1 "github.com/lethe-operator/lethe/api/v1alpha1"
	"github.com/lethe-operator/lethe/internal/fingerprint"
)

const (
	kindErasureRequest = "ErasureRequest"
	// DefaultFingerprintKeySecret is the Secret, in the operator's namespace, whose key
	// "key" holds the HMAC key of subject fingerprints.
	DefaultFingerprintKeySecret = "lethe-fingerprint-key"
	fingerprintKeyKey           = "key"
	// recheckDeadline bounds how long an unfinished request sleeps, so a deadline is
	// noticed even if nothing else happens.
	recheckDeadline = 10 * time.Minute
	// requestReconciles is how many requests are reconciled at once: fingerprinting reads
	// Secrets uncached, and a burst of requests waits on those round trips, not on CPU.
	requestReconciles = 16
)

// ErasureRequestReconciler keeps each ErasureRequest's fingerprint, deadline, conditions,
// phase and receipt. The erasure itself is the ErasureBatchReconciler's: it runs the Jobs
// per database and records their outcomes in status.targets, which this reconciler reads.
type ErasureRequestReconciler struct {
	client.Client
	// APIReader reads Secrets uncached: the manager caches no Secret.
	APIReader         client.Reader
	Scheme            *runtime.Scheme
	Recorder          events.EventRecorder
	Clock             clock.PassiveClock
	OperatorNamespace string
	// FingerprintKeySecret names the Secret holding the fingerprint key (key "key").
	FingerprintKeySecret string
}

// +kubebuilder:rbac:groups=privacy.lethe.dev,resources=erasurerequests,verbs=get;list;watch
// +kubebuilder:rbac:groups=privacy.lethe.dev,resources=erasurerequests/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=privacy.lethe.dev,resources=tenantdatabases,verbs=get;list;watch
// +kubebuilder:rbac:groups=privacy.lethe.dev,resources=retentionpolicies,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get

// SetupWithManager registers the controller; a TenantDatabase change re-reads the
// requests of its namespace (a database appearing, becoming ready).
func (r *ErasureRequestReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	if r.FingerprintKeySecret == "" {
		r.FingerprintKeySecret = DefaultFingerprintKeySecret
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&privacyv1alpha1.ErasureRequest{}).
		Watches(&privacyv1alpha1.TenantDatabase{}, handler.EnqueueRequestsFromMapFunc(r.requestsInNamespace)).
		WithOptions(controller.Options{MaxConcurrentReconciles: requestReconciles}).
		Complete(r)
}

func (r *ErasureRequestReconciler) requestsInNamespace(ctx context.Context, obj client.Object) []reconcile.Request {
	list := &privacyv1alpha1.ErasureRequestList{}
	if err := r.List(ctx, list, client.InNamespace(obj.GetNamespace())); err != nil {
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for _, er := range list.Items {
		if !meta.IsStatusConditionTrue(er.Status.Conditions, privacyv1alpha1.ConditionComplete) {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&er)})
		}
	}
	return reqs
}

// Reconcile runs one pass for an ErasureRequest; every return path writes the status.
func (r *ErasureRequestReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, err error) {
	er := &privacyv1alpha1.ErasureRequest{}
	if err := r.Get(ctx, req.NamespacedName, er); err != nil {
		if apierrors.IsNotFound(err) {
			deadlines.forget(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	base := er.DeepCopy()
	oldPhase := er.Status.Phase
	defer func() {
		deadlines.set(req.NamespacedName, er.Status.Deadline.Time, er.Status.Phase, r.Clock)
		if er.Status.Phase != oldPhase && er.Status.Phase != "" {
			r.event(er, corev1.EventTypeNormal, "Phase"+string(er.Status.Phase), "Phase",
				fmt.Sprintf("phase %s (databases done: %s)", er.Status.Phase, er.Status.Databases))
		}
		// The batch reconciler writes targets concurrently: an optimistic lock makes a
		// stale pass retry instead of overwriting them.
		patch := client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})
		if patchErr := r.Status().Patch(ctx, er, patch); patchErr != nil && !apierrors.IsNotFound(patchErr) {
			if apierrors.IsConflict(patchErr) {
				result, err = ctrl.Result{Requeue: true}, nil
				return
			}
			err = patchErr
		}
	}()
	return r.reconcile(ctx, er)
}

func (r *ErasureRequestReconciler) reconcile(ctx context.Context, er *privacyv1alpha1.ErasureRequest) (ctrl.Result, error) {
	conds := conditions{list: &er.Status.Conditions, generation: er.Generation}
	now := r.Clock.Now()
	deadline := erasureDeadline(er.CreationTimestamp.Time, er.GetExtensionMonths())
	er.Status.Deadline = &metav1.Time{Time: deadline}

	if meta.IsStatusConditionTrue(er.Status.Conditions, privacyv1alpha1.ConditionComplete) {
		// A completed request is a record: it is not re-evaluated.
		er.Status.Phase = privacyv1alpha1.ErasureComplete
		er.Status.ObservedGeneration = er.Generation
		return ctrl.Result{}, nil
	}
	requeue := min(deadline.Sub(now), recheckDeadline)
	if requeue <= 0 {
		requeue = recheckDeadline
	}
	if er.Status.Phase != privacyv1alpha1.ErasureNotFound {
		// A request searched for in vain is finished: its deadline no longer runs.
		r.checkDeadline(er, conds, now, deadline)
	}
	if stalled, err := r.checkSubject(ctx, er, conds); err != nil {
		return ctrl.Result{}, err
	} else if stalled {
		return ctrl.Result{RequeueAfter: min(requeue, recheckSecrets)}, nil
	}
	r.checkApproval(er, conds)
	dbs, err := r.selectedDatabases(ctx, er)
	if err != nil {
		return ctrl.Result{}, err
	}
	r.summarise(er, conds, dbs, now)
	if meta.IsStatusConditionTrue(er.Status.Conditions, privacyv1alpha1.ConditionComplete) {
		return ctrl.Result{}, nil
	}
	return ctrl.Result{RequeueAfter: requeue}, nil
}

// checkDeadline sets DeadlineExceeded, with a Warning Event when it first passes.
func (r *ErasureRequestReconciler) checkDeadline(er *privacyv1alpha1.ErasureRequest, conds conditions, now, deadline time.Time) {
	if now.Before(deadline) {
		conds.set(privacyv1alpha1.ConditionDeadlineExceeded, metav1.ConditionFalse, privacyv1alpha1.ReasonWithinDeadline,
			fmt.Sprintf("the deadline is %s", deadline.UTC().Format(time.RFC3339)))
		return
	}
	msg := fmt.Sprintf("the deadline %s passed before the request was complete", deadline.UTC().Format(time.RFC3339))
	if !meta.IsStatusConditionTrue(er.Status.Conditions, privacyv1alpha1.ConditionDeadlineExceeded) {
		r.event(er, corev1.EventTypeWarning, privacyv1alpha1.ReasonDeadlinePassed, "Deadline", msg)
	}
	conds.set(privacyv1alpha1.ConditionDeadlineExceeded, metav1.ConditionTrue, privacyv1alpha1.ReasonDeadlinePassed, msg)
}

// checkSubject fingerprints the identifier once and, on every pass, checks that the
// Secret holding it still exists, since the worker reads it from there.
func (r *ErasureRequestReconciler) checkSubject(ctx context.Context, er *privacyv1alpha1.ErasureRequest, conds conditions) (stalled bool, err error) {
	if er.Status.SubjectFingerprint == "" {
		fp, reason, msg, err := r.fingerprint(ctx, er)
		if err != nil || reason != "" {
			if reason != "" {
				r.stall(er, conds, reason, msg)
			}
			return true, err
		}
		er.Status.SubjectFingerprint = fp
		r.event(er, corev1.EventTypeNormal, "Fingerprinted", "Fingerprint", "subject fingerprint "+fp)
		return false, nil
	}
	ref := er.Spec.Subject.SecretRef
	meta := &metav1.PartialObjectMetadata{}
	meta.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	if err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: er.Namespace, Name: ref.Name}, meta); err != nil {
		if !apierrors.IsNotFound(err) {
			return true, err
		}
		r.stall(er, conds, privacyv1alpha1.ReasonSubjectSecretNotFound,
			fmt.Sprintf("Secret %q holding the subject's identifier was not found in namespace %s: the worker cannot read the identifier", ref.Name, er.Namespace))
		return true, nil
	}
	return false, nil
}

// fingerprint computes the subject's fingerprint. The identifier is read, hashed and
// dropped here: it goes into no log, Event, status or error message.
func (r *ErasureRequestReconciler) fingerprint(ctx context.Context, er *privacyv1alpha1.ErasureRequest) (fp, reason, msg string, err error) {
	keySecret := &corev1.Secret{}
	if err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: r.OperatorNamespace, Name: r.FingerprintKeySecret}, keySecret); err != nil {
		if !apierrors.IsNotFound(err) {
			return "", "", "", err
		}
		return "", privacyv1alpha1.ReasonFingerprintKeyNotFound, fmt.Sprintf(
			"the fingerprint key Secret %q was not found in the operator's namespace %s: create it with a random key of at least 16 bytes under %q",
			r.FingerprintKeySecret, r.OperatorNamespace, fingerprintKeyKey), nil
	}
	key := keySecret.Data[fingerprintKeyKey]
	ref := er.Spec.Subject.SecretRef
	subject := &corev1.Secret{}
	if err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: er.Namespace, Name: ref.Name}, subject); err != nil {
		if !apierrors.IsNotFound(err) {
			return "", "", "", err
		}
		return "", privacyv1alpha1.ReasonSubjectSecretNotFound, fmt.Sprintf(
			"Secret %q holding the subject's identifier was not found in namespace %s", ref.Name, er.Namespace), nil
	}
	value, ok := subject.Data[ref.Key]
	defer clear(value)
	if !ok {
		return "", privacyv1alpha1.ReasonSubjectSecretNotFound, fmt.Sprintf("Secret %q has no key %q", ref.Name, ref.Key), nil
	}
	norm, reason, msg, err := subjectNormalization(ctx, r.APIReader, er)
	if err != nil || reason != "" {
		return "", reason, msg, err
	}
	fp, err = fingerprint.Compute(key, er.Spec.Subject.Type, value, norm)
	switch err {
	case nil:
		return fp, "", "", nil
	case fingerprint.ErrEmptyKey:
		return "", privacyv1alpha1.ReasonFingerprintKeyNotFound, fmt.Sprintf(
			"the fingerprint key in Secret %s/%s (key %q) is missing or shorter than 16 bytes", r.OperatorNamespace, r.FingerprintKeySecret, fingerprintKeyKey), nil
	default:
		return "", privacyv1alpha1.ReasonSubjectSecretNotFound, fmt.Sprintf("Secret %q key %q: %v", ref.Name, ref.Key, err), nil
	}
}

// checkApproval sets Approved.
func (r *ErasureRequestReconciler) checkApproval(er *privacyv1alpha1.ErasureRequest, conds conditions) {
	switch {
	case !er.ApprovalRequired():
		conds.set(privacyv1alpha1.ConditionApproved, metav1.ConditionTrue, privacyv1alpha1.ReasonApprovalNotRequired, "the request does not require approval")
	case er.Spec.Approval.Approved:
		if !meta.IsStatusConditionTrue(er.Status.Conditions, privacyv1alpha1.ConditionApproved) {
			r.event(er, corev1.EventTypeNormal, privacyv1alpha1.ReasonApprovedByUser, "Approve",
				"approved by "+approver(er))
		}
		conds.set(privacyv1alpha1.ConditionApproved, metav1.ConditionTrue, privacyv1alpha1.ReasonApprovedByUser, "approved by "+approver(er))
		meta.RemoveStatusCondition(conds.list, privacyv1alpha1.ConditionAwaitingApproval)
	default:
		conds.set(privacyv1alpha1.ConditionApproved, metav1.ConditionFalse, privacyv1alpha1.ReasonPreviewing, "the request waits for approval after its preview")
	}
}

func approver(er *privacyv1alpha1.ErasureRequest) string {
	if a := er.Annotations[privacyv1alpha1.ApprovedByAnnotation]; a != "" {
		return a
	}
	return "an unrecorded user"
}

// selectedDatabases lists the TenantDatabases the request selects, by name.
func (r *ErasureRequestReconciler) selectedDatabases(ctx context.Context, er *privacyv1alpha1.ErasureRequest) ([]privacyv1alpha1.TenantDatabase, error) {
	return selectDatabases(ctx, r.Client, er)
}

// selectDatabases lists the TenantDatabases in the request's namespace that its selector
// picks (all without one).
func selectDatabases(ctx context.Context, c client.Client, er *privacyv1alpha1.ErasureRequest) ([]privacyv1alpha1.TenantDatabase, error) {
	list := &privacyv1alpha1.TenantDatabaseList{}
	if err := c.List(ctx, list, client.InNamespace(er.Namespace)); err != nil {
		return nil, err
	}
	var out []privacyv1alpha1.TenantDatabase
	for _, db := range list.Items {
		if selects(er, &db) {
			out = append(out, db)
		}
	}
	return out, nil
}

// selects says whether the request's selector picks the database.
func selects(er *privacyv1alpha1.ErasureRequest, db *privacyv1alpha1.TenantDatabase) bool {
	if db.Namespace != er.Namespace {
		return false
	}
	if er.Spec.DatabaseSelector == nil {
		return true
	}
	sel, err := metav1.LabelSelectorAsSelector(er.Spec.DatabaseSelector)
	return err == nil && sel.Matches(labels.Set(db.Labels))
}

func (r *ErasureRequestReconciler) stall(er *privacyv1alpha1.ErasureRequest, conds conditions, reason, msg string) {
	if !stalledWith(er.Status.Conditions, reason) {
		r.event(er, corev1.EventTypeWarning, reason, "Validate", msg)
	}
	conds.stalled(reason, msg)
	er.Status.Phase = privacyv1alpha1.ErasureFailed
	er.Status.ObservedGeneration = er.Generation
}

func (r *ErasureRequestReconciler) event(obj runtime.Object, typ, reason, action, msg string) {
	if r.Recorder != nil {
		r.Recorder.Eventf(obj, nil, typ, reason, action, "%s", msg)
	}
}
