package controllers

import (
	"context"
	"errors"
	"net/http"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	privacyv1alpha1 "github.com/lethe-operator/lethe/api/v1alpha1"
	"github.com/lethe-operator/lethe/internal/notify"
	"github.com/lethe-operator/lethe/internal/transfer"
)

// +kubebuilder:rbac:groups=privacy.lethe.dev,resources=subprocessors,verbs=get;list;watch
// +kubebuilder:rbac:groups=privacy.lethe.dev,resources=subprocessors/status,verbs=get;update;patch

// Defaults of the SubprocessorReconciler's settings.
const (
	DefaultSubprocessorRegister    = "lethe-subprocessor-register"
	DefaultSubprocessorSubscribers = "lethe-subprocessor-subscribers"
)

// SubprocessorReconciler checks each Subprocessor's transfer of personal data (the
// Compliant condition), keeps the published register of all Subprocessors in a
// ConfigMap, and notifies the subscribers configured in a Secret of every change.
type SubprocessorReconciler struct {
	// Client reads and writes the API; defaults to the manager's client.
	Client client.Client
	// APIReader reads the register's ConfigMaps uncached, so a revision is never computed
	// from a stale copy; defaults to the manager's API reader.
	APIReader client.Reader
	// Recorder emits Events; defaults to the manager's recorder.
	Recorder events.EventRecorder
	// Namespace is the operator's namespace, home of the register ConfigMaps and the
	// subscribers Secret. Required.
	Namespace string
	// RegisterName names the register's ConfigMap (register.json, register.md); the
	// delivery state lives beside it in RegisterName-deliveries.
	RegisterName string
	// SubscribersSecret names the Secret listing the webhooks: NAME.url and NAME.secret.
	SubscribersSecret string
	// HTTPClient posts the notifications; defaults to a client with a 10s timeout.
	HTTPClient *http.Client
	// Backoff spaces a failing subscriber's retries; defaults to 5s doubling up to 10m.
	Backoff notify.Backoff
	// Clock is the time source; defaults to the real clock.
	Clock clock.PassiveClock

	// subscribersReader reads the subscribers Secret from a cache of the operator's
	// namespace only.
	subscribersReader client.Reader
}

// Reconcile sets a Subprocessor's Compliant, Ready, Reconciling and Stalled conditions.
func (r *SubprocessorReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	sp := &privacyv1alpha1.Subprocessor{}
	if err := r.Client.Get(ctx, req.NamespacedName, sp); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !sp.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil // the register drops it; nothing to say about it
	}
	before := sp.DeepCopy()
	verdict := transfer.Assess(sp.Spec.Country, sp.GetTransferMechanism())
	setSubprocessorConditions(sp, verdict)
	if equality.Semantic.DeepEqual(before.Status, sp.Status) {
		return ctrl.Result{}, nil
	}
	if err := r.Client.Status().Patch(ctx, sp, client.MergeFrom(before)); err != nil {
		return ctrl.Result{}, err
	}
	r.recordVerdict(before, sp, verdict)
	return ctrl.Result{}, nil
}

// setSubprocessorConditions writes the verdict as kstatus conditions: a transfer that is
// not compliant needs a person to change the spec, so it is Stalled, not Reconciling.
func setSubprocessorConditions(sp *privacyv1alpha1.Subprocessor, v transfer.Assessment) {
	gen := sp.Generation
	set := func(condType string, status metav1.ConditionStatus, reason, message string) {
		meta.SetStatusCondition(&sp.Status.Conditions, metav1.Condition{
			Type: condType, Status: status, Reason: reason, Message: message, ObservedGeneration: gen,
		})
	}
	set(privacyv1alpha1.ConditionCompliant, conditionStatus(v.Compliant), v.Reason, v.Message)
	set(privacyv1alpha1.ConditionReconciling, metav1.ConditionFalse, privacyv1alpha1.ReasonSucceeded, "the transfer is checked")
	if v.Compliant {
		set(privacyv1alpha1.ConditionReady, metav1.ConditionTrue, privacyv1alpha1.ReasonSucceeded, v.Message)
		set(privacyv1alpha1.ConditionStalled, metav1.ConditionFalse, privacyv1alpha1.ReasonSucceeded, "the transfer is compliant")
	} else {
		set(privacyv1alpha1.ConditionReady, metav1.ConditionFalse, privacyv1alpha1.ReasonNotCompliant, v.Message)
		set(privacyv1alpha1.ConditionStalled, metav1.ConditionTrue, privacyv1alpha1.ReasonNotCompliant, v.Message)
	}
	sp.Status.ObservedGeneration = gen
}

// recordVerdict emits an Event when the Compliant condition changed.
func (r *SubprocessorReconciler) recordVerdict(before, after *privacyv1alpha1.Subprocessor, v transfer.Assessment) {
	old := meta.FindStatusCondition(before.Status.Conditions, privacyv1alpha1.ConditionCompliant)
	if old != nil && old.Reason == v.Reason && old.Status == conditionStatus(v.Compliant) {
		return
	}
	eventType := corev1.EventTypeNormal
	if !v.Compliant {
		eventType = corev1.EventTypeWarning
	}
	r.Recorder.Eventf(after, nil, eventType, v.Reason, "CheckTransfer", "%s", v.Message)
}

func conditionStatus(ok bool) metav1.ConditionStatus {
	if ok {
		return metav1.ConditionTrue
	}
	return metav1.ConditionFalse
}

// SetupWithManager registers two controllers: one checks each Subprocessor, the other
// keeps the register and its notifications.
func (r *SubprocessorReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Namespace == "" {
		return errors.New("SubprocessorReconciler: Namespace (the operator's namespace) is required")
	}
	r.setDefaults(mgr)
	err := ctrl.NewControllerManagedBy(mgr).
		For(&privacyv1alpha1.Subprocessor{}).
		Named("subprocessor").
		Complete(r)
	if err != nil {
		return err
	}
	return r.setupRegister(mgr)
}

func (r *SubprocessorReconciler) setDefaults(mgr ctrl.Manager) {
	if r.Client == nil {
		r.Client = mgr.GetClient()
	}
	if r.APIReader == nil {
		r.APIReader = mgr.GetAPIReader()
	}
	if r.Recorder == nil {
		r.Recorder = mgr.GetEventRecorder("lethe-subprocessor")
	}
	if r.RegisterName == "" {
		r.RegisterName = DefaultSubprocessorRegister
	}
	if r.SubscribersSecret == "" {
		r.SubscribersSecret = DefaultSubprocessorSubscribers
	}
	if r.HTTPClient == nil {
		r.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if r.Backoff.Base <= 0 {
		r.Backoff.Base = 5 * time.Second
	}
	if r.Backoff.Max < r.Backoff.Base {
		r.Backoff.Max = max(10*time.Minute, r.Backoff.Base)
	}
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
}
