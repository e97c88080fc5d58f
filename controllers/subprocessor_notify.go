package controllers

import (
	"context"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"

	privacyv1alpha1 "github.com/lethe-operator/lethe/api/v1alpha1"
	"github.com/lethe-operator/lethe/internal/notify"
)

// maxDeliveriesPerPass bounds one subscriber's POSTs per reconcile, so a long backlog
// is saved as it goes rather than all at the end.
const maxDeliveriesPerPass = 20

// subscribers reads the subscribers Secret; no Secret means no subscribers.
func (r *SubprocessorReconciler) subscribers(ctx context.Context) ([]notify.Subscriber, error) {
	secret := &corev1.Secret{}
	err := r.subscribersReader.Get(ctx, r.subscribersKey(), secret)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return notify.Subscribers(secret.Data), nil
}

func (r *SubprocessorReconciler) subscribersKey() types.NamespacedName {
	return types.NamespacedName{Namespace: r.Namespace, Name: r.SubscribersSecret}
}

func subscriberNames(subscribers []notify.Subscriber) []string {
	names := make([]string, 0, len(subscribers))
	for _, s := range subscribers {
		names = append(names, s.Name)
	}
	return names
}

func validSubscriberNames(subscribers []notify.Subscriber) []string {
	var names []string
	for _, s := range subscribers {
		if s.Err == nil {
			names = append(names, s.Name)
		}
	}
	return names
}

// checkSubscribers reports each misconfigured subscriber once per distinct problem.
// They keep their progress and are retried when the Secret changes.
func (r *SubprocessorReconciler) checkSubscribers(cm *corev1.ConfigMap, state *notify.State, subscribers []notify.Subscriber) {
	for _, s := range subscribers {
		p := state.Subscribers[s.Name]
		if s.Err == nil || p == nil || p.LastError == s.Err.Error() {
			continue
		}
		p.LastError = s.Err.Error()
		r.Recorder.Eventf(cm, nil, corev1.EventTypeWarning, privacyv1alpha1.ReasonSubscriberInvalid, "Notify",
			"subscriber %s in Secret %s/%s: %s", s.Name, r.Namespace, r.SubscribersSecret, s.Err.Error())
	}
}

// outcome is what one pass delivered to one subscriber.
type outcome struct {
	subscriber string
	delivered  []int64
	failed     int64
	err        error
}

// deliver POSTs what is due to every subscriber at once, each in revision order, so a
// slow or failing subscriber delays no other, and records the outcomes in state.
func (r *SubprocessorReconciler) deliver(ctx context.Context, cm *corev1.ConfigMap, state *notify.State, subscribers []notify.Subscriber) {
	now := r.Now()
	outcomes := make([]outcome, len(subscribers))
	var wg sync.WaitGroup
	for i, s := range subscribers {
		due := state.Due(s.Name, now)
		if s.Err != nil || len(due) == 0 {
			continue
		}
		wg.Go(func() { outcomes[i] = r.deliverTo(ctx, s, due) })
	}
	wg.Wait()
	for _, o := range outcomes {
		if o.subscriber != "" {
			r.recordOutcome(cm, state, o)
		}
	}
}

func (r *SubprocessorReconciler) deliverTo(ctx context.Context, s notify.Subscriber, due []notify.Notification) outcome {
	o := outcome{subscriber: s.Name}
	for _, n := range due[:min(len(due), maxDeliveriesPerPass)] {
		if err := notify.Post(ctx, r.HTTPClient, s, n); err != nil {
			o.failed, o.err = n.Revision, err
			return o
		}
		o.delivered = append(o.delivered, n.Revision)
	}
	return o
}

func (r *SubprocessorReconciler) recordOutcome(cm *corev1.ConfigMap, state *notify.State, o outcome) {
	if n := len(o.delivered); n > 0 {
		state.Delivered(o.subscriber, o.delivered[n-1])
		r.Recorder.Eventf(cm, nil, corev1.EventTypeNormal, privacyv1alpha1.ReasonNotificationDelivered, "Notify",
			"delivered %s to subscriber %s", revisions(o.delivered), o.subscriber)
	}
	if o.err == nil {
		return
	}
	state.Failed(o.subscriber, o.err, r.Now(), r.Backoff)
	p := state.Subscribers[o.subscriber]
	r.Recorder.Eventf(cm, nil, corev1.EventTypeWarning, privacyv1alpha1.ReasonNotificationFailed, "Notify",
		"%s", truncate(fmt.Sprintf("delivering revision %d to subscriber %s failed (attempt %d, next after %s): %s",
			o.failed, o.subscriber, p.Failures, p.NextAttempt.Format("15:04:05.000"), o.err.Error())))
}

func revisions(revs []int64) string {
	if len(revs) == 1 {
		return fmt.Sprintf("revision %d", revs[0])
	}
	return fmt.Sprintf("revisions %d to %d", revs[0], revs[len(revs)-1])
}
