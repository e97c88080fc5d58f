package controllers

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	privacyv1alpha1 "github.com/lethe-operator/lethe/api/v1alpha1"
	"github.com/lethe-operator/lethe/internal/notify"
	"github.com/lethe-operator/lethe/internal/register"
	"github.com/lethe-operator/lethe/internal/transfer"
)

// The register lives in the operator's namespace only: a Role there, not a ClusterRole,
// so the manager cannot read other namespaces' Secrets.
// +kubebuilder:rbac:groups="",namespace=lethe-system,resources=configmaps,verbs=get;list;watch;create;update;patch
// +kubebuilder:rbac:groups="",namespace=lethe-system,resources=secrets,verbs=get;list;watch

// Keys of the register's ConfigMaps.
const (
	// RegisterJSONKey holds the machine-readable register.
	RegisterJSONKey = "register.json"
	// RegisterMarkdownKey holds the register as a Markdown table.
	RegisterMarkdownKey = "register.md"
	// DeliveryStateKey holds the delivery state in the RegisterName-deliveries ConfigMap.
	DeliveryStateKey = "state.json"
)

// Annotations summarising the register (on its ConfigMap) and its deliveries (on the
// deliveries ConfigMap), for `kubectl get configmap -o yaml` and custom columns.
const (
	AnnotationRevision          = "privacy.lethe.dev/revision"
	AnnotationDigest            = "privacy.lethe.dev/digest"
	AnnotationPublishedAt       = "privacy.lethe.dev/published-at"
	AnnotationSubprocessors     = "privacy.lethe.dev/subprocessors"
	AnnotationNotCompliant      = "privacy.lethe.dev/not-compliant"
	AnnotationSubscribers       = "privacy.lethe.dev/subscribers"
	AnnotationSubscribersBehind = "privacy.lethe.dev/subscribers-behind"
)

// registerLabels mark the ConfigMaps Lethe owns.
var registerLabels = map[string]string{
	"app.kubernetes.io/managed-by": "lethe",
	"app.kubernetes.io/component":  "subprocessor-register",
}

// maxEventNote keeps an Event's note under the events API's 1 kB limit.
const maxEventNote = 900

func (r *SubprocessorReconciler) registerKey() types.NamespacedName {
	return types.NamespacedName{Namespace: r.Namespace, Name: r.RegisterName}
}

func (r *SubprocessorReconciler) deliveriesKey() types.NamespacedName {
	return types.NamespacedName{Namespace: r.Namespace, Name: r.RegisterName + "-deliveries"}
}

// setupRegister registers the controller that keeps the register. All events map to one
// request, so one worker sees every change in order. The ConfigMaps and the Secret are
// watched through a cache limited to the operator's namespace (and, for Secrets, to the
// subscribers Secret), so the manager never lists Secrets elsewhere.
func (r *SubprocessorReconciler) setupRegister(mgr ctrl.Manager) error {
	namespaced, err := cache.New(mgr.GetConfig(), cache.Options{
		Scheme:            mgr.GetScheme(),
		Mapper:            mgr.GetRESTMapper(),
		HTTPClient:        mgr.GetHTTPClient(),
		DefaultNamespaces: map[string]cache.Config{r.Namespace: {}},
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Secret{}: {Field: fields.OneTermEqualSelector("metadata.name", r.SubscribersSecret)},
		},
	})
	if err != nil {
		return fmt.Errorf("creating the cache of namespace %s: %w", r.Namespace, err)
	}
	if err := mgr.Add(namespaced); err != nil {
		return err
	}
	r.subscribersReader = namespaced
	key := r.registerKey()
	ours := predicate.NewTypedPredicateFuncs(func(cm *corev1.ConfigMap) bool {
		return cm.Name == key.Name || cm.Name == r.deliveriesKey().Name
	})
	return ctrl.NewControllerManagedBy(mgr).
		Named("subprocessor-register").
		// Status updates do not change the register: only spec changes and deletions do.
		Watches(&privacyv1alpha1.Subprocessor{}, enqueue[client.Object](key),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		WatchesRawSource(source.Kind(namespaced, &corev1.ConfigMap{}, enqueue[*corev1.ConfigMap](key), ours)).
		WatchesRawSource(source.Kind(namespaced, &corev1.Secret{}, enqueue[*corev1.Secret](key))).
		// One pass at start: publishes revision 0 on a fresh install and resumes deliveries
		// after a restart even when nothing changes.
		WatchesRawSource(source.Func(func(_ context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request]) error {
			q.Add(reconcile.Request{NamespacedName: key})
			return nil
		})).
		Complete(reconcile.Func(r.reconcileRegister))
}

// enqueue maps every event to the register's one request.
func enqueue[T client.Object](key types.NamespacedName) handler.TypedEventHandler[T, reconcile.Request] {
	return handler.TypedEnqueueRequestsFromMapFunc(func(context.Context, T) []reconcile.Request {
		return []reconcile.Request{{NamespacedName: key}}
	})
}

// reconcileRegister publishes a new register revision when the Subprocessors changed,
// then delivers what each subscriber has not received yet. The publication is saved in
// the delivery state before anything else, so no revision is lost to a crash.
func (r *SubprocessorReconciler) reconcileRegister(ctx context.Context, _ reconcile.Request) (ctrl.Result, error) {
	deliveries, state, err := r.loadState(ctx)
	if err != nil {
		return ctrl.Result{}, err
	}
	list := &privacyv1alpha1.SubprocessorList{}
	if err := r.Client.List(ctx, list); err != nil {
		return ctrl.Result{}, err
	}
	subscribers, err := r.subscribers(ctx)
	if err != nil {
		return ctrl.Result{}, err
	}
	// Track before Publish: a subscriber that appears with a change receives that change.
	state.Track(subscriberNames(subscribers))
	notification, published := state.Publish(register.Entries(list.Items), r.registerKey().String(), r.Clock.Now())
	if err := r.saveState(ctx, deliveries, state); err != nil {
		return ctrl.Result{}, err
	}
	cm, err := r.writeRegister(ctx, state.Register, list.Items)
	if err != nil {
		return ctrl.Result{}, err
	}
	if published {
		r.recordPublication(cm, list.Items, notification)
	}
	// Delivery Events regard the deliveries ConfigMap, whose version changes with each
	// saved pass, so the events API keeps every pass's note.
	r.checkSubscribers(deliveries, state, subscribers)
	r.deliver(ctx, deliveries, state, subscribers)
	state.Prune()
	if err := r.saveState(ctx, deliveries, state); err != nil {
		return ctrl.Result{}, err
	}
	observeRegister(state, len(notCompliant(list.Items)))
	if wait, behind := state.NextAttempt(r.Clock.Now(), validSubscriberNames(subscribers)); behind {
		// A zero wait means more is due right now (a pass delivers a bounded number).
		return ctrl.Result{RequeueAfter: max(wait, time.Millisecond)}, nil
	}
	return ctrl.Result{}, nil
}

// loadState reads the delivery state. When its ConfigMap is missing but the register's
// exists (deleted by hand, or an older install), the state restarts from the published
// register, so revisions keep counting up.
func (r *SubprocessorReconciler) loadState(ctx context.Context) (*corev1.ConfigMap, *notify.State, error) {
	deliveries := &corev1.ConfigMap{}
	err := r.APIReader.Get(ctx, r.deliveriesKey(), deliveries)
	switch {
	case apierrors.IsNotFound(err):
		deliveries = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
			Namespace: r.Namespace, Name: r.deliveriesKey().Name, Labels: maps.Clone(registerLabels),
		}}
		state, _ := notify.ParseState("")
		state.Register = r.publishedRegister(ctx)
		return deliveries, state, nil
	case err != nil:
		return nil, nil, err
	}
	state, err := notify.ParseState(deliveries.Data[DeliveryStateKey])
	if err != nil {
		// Someone edited the state: retrying will not help, a fix or a delete of the
		// ConfigMap will (both trigger a new reconcile through the watch).
		r.Recorder.Eventf(deliveries, nil, corev1.EventTypeWarning, privacyv1alpha1.ReasonInvalidSpec, "LoadState",
			"%s; fix or delete ConfigMap %s", err.Error(), r.deliveriesKey())
		return nil, nil, reconcile.TerminalError(err)
	}
	return deliveries, state, nil
}

// publishedRegister returns the register as its ConfigMap publishes it, or an empty one.
func (r *SubprocessorReconciler) publishedRegister(ctx context.Context) register.Register {
	cm := &corev1.ConfigMap{}
	if err := r.APIReader.Get(ctx, r.registerKey(), cm); err != nil {
		return register.Register{Digest: register.Digest(nil)}
	}
	published, err := register.Parse([]byte(cm.Data[RegisterJSONKey]))
	if err != nil {
		return register.Register{Digest: register.Digest(nil)}
	}
	published.Digest = register.Digest(published.Entries)
	return published
}

// saveState writes the delivery state when it changed; deliveries is updated in place
// with the stored object, so the next save works on the new resourceVersion.
func (r *SubprocessorReconciler) saveState(ctx context.Context, deliveries *corev1.ConfigMap, state *notify.State) error {
	data := state.JSON()
	behind := state.Behind()
	annotations := map[string]string{
		AnnotationRevision:          strconv.FormatInt(state.Register.Revision, 10),
		AnnotationSubscribers:       strconv.Itoa(len(state.Subscribers)),
		AnnotationSubscribersBehind: strings.Join(behind, ","),
	}
	if deliveries.ResourceVersion != "" && deliveries.Data[DeliveryStateKey] == data && hasAll(deliveries.Annotations, annotations) {
		return nil
	}
	deliveries.Data = map[string]string{DeliveryStateKey: data}
	deliveries.Annotations = mergeStrings(deliveries.Annotations, annotations)
	if deliveries.ResourceVersion == "" {
		return r.Client.Create(ctx, deliveries)
	}
	// Update, not patch: the resourceVersion makes a concurrent writer fail instead of
	// silently losing a revision.
	return r.Client.Update(ctx, deliveries)
}

// writeRegister renders the register into its ConfigMap and returns the stored object.
func (r *SubprocessorReconciler) writeRegister(ctx context.Context, published register.Register, items []privacyv1alpha1.Subprocessor) (*corev1.ConfigMap, error) {
	data := map[string]string{
		RegisterJSONKey:     string(published.JSON()),
		RegisterMarkdownKey: published.Markdown(),
	}
	annotations := map[string]string{
		AnnotationRevision:      strconv.FormatInt(published.Revision, 10),
		AnnotationDigest:        published.Digest,
		AnnotationSubprocessors: strconv.Itoa(len(published.Entries)),
		AnnotationNotCompliant:  strings.Join(notCompliant(items), ","),
	}
	if published.PublishedAt != nil {
		annotations[AnnotationPublishedAt] = published.PublishedAt.UTC().Format(time.RFC3339)
	}
	cm := &corev1.ConfigMap{}
	err := r.APIReader.Get(ctx, r.registerKey(), cm)
	if apierrors.IsNotFound(err) {
		cm = &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Namespace: r.Namespace, Name: r.RegisterName,
				Labels: maps.Clone(registerLabels), Annotations: annotations},
			Data: data,
		}
		return cm, r.Client.Create(ctx, cm)
	}
	if err != nil {
		return nil, err
	}
	if maps.Equal(cm.Data, data) && len(cm.BinaryData) == 0 && hasAll(cm.Annotations, annotations) && hasAll(cm.Labels, registerLabels) {
		return cm, nil
	}
	cm.Data, cm.BinaryData = data, nil
	cm.Annotations = mergeStrings(cm.Annotations, annotations)
	cm.Labels = mergeStrings(cm.Labels, registerLabels)
	return cm, r.Client.Update(ctx, cm)
}

// notCompliant names the Subprocessors whose transfer is not compliant, sorted.
func notCompliant(items []privacyv1alpha1.Subprocessor) []string {
	var names []string
	for i := range items {
		sp := &items[i]
		if sp.DeletionTimestamp == nil && !transfer.Assess(sp.Spec.Country, sp.GetTransferMechanism()).Compliant {
			names = append(names, sp.Name)
		}
	}
	slices.Sort(names)
	return names
}

// recordPublication emits the Events of a new revision: one on the register's ConfigMap
// and one on each Subprocessor added or changed.
func (r *SubprocessorReconciler) recordPublication(cm *corev1.ConfigMap, items []privacyv1alpha1.Subprocessor, n notify.Notification) {
	r.Recorder.Eventf(cm, nil, corev1.EventTypeNormal, privacyv1alpha1.ReasonRegisterChanged, "Publish",
		"%s", truncate(fmt.Sprintf("revision %d: %s", n.Revision, n.Changes.Summary())))
	byName := map[string]*privacyv1alpha1.Subprocessor{}
	for i := range items {
		byName[items[i].Name] = &items[i]
	}
	for _, e := range n.Changes.Added {
		if sp := byName[e.Name]; sp != nil {
			r.Recorder.Eventf(sp, nil, corev1.EventTypeNormal, privacyv1alpha1.ReasonPublished, "Publish",
				"added to the register in revision %d", n.Revision)
		}
	}
	for _, c := range n.Changes.Changed {
		if sp := byName[c.Name]; sp != nil {
			r.Recorder.Eventf(sp, nil, corev1.EventTypeNormal, privacyv1alpha1.ReasonPublished, "Publish",
				"%s", truncate(fmt.Sprintf("changed in the register in revision %d: %s", n.Revision, fieldNames(c.Fields))))
		}
	}
}

func fieldNames(fields []register.FieldChange) string {
	names := make([]string, 0, len(fields))
	for _, f := range fields {
		names = append(names, f.Field)
	}
	return strings.Join(names, ", ")
}

// hasAll reports whether have holds every key of want with the same value.
func hasAll(have, want map[string]string) bool {
	for k, v := range want {
		if got, ok := have[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// mergeStrings returns base with over's keys set; other keys (someone else's) stay.
func mergeStrings(base, over map[string]string) map[string]string {
	out := maps.Clone(base)
	if out == nil {
		out = map[string]string{}
	}
	maps.Copy(out, over)
	return out
}

func truncate(note string) string {
	if len(note) <= maxEventNote {
		return note
	}
	cut := maxEventNote
	for cut > 0 && !utf8.RuneStart(note[cut]) {
		cut-- // do not split a character
	}
	return note[:cut] + "…"
}
