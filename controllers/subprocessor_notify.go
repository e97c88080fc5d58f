package controllers

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"

	privacyv1alpha1 "github.com/lethe-operator/lethe/api/v1alpha1"
	"github.com/lethe-operator/lethe/internal/notify"
)

// A pass bounds each subscriber's POSTs, in number and in time, so a long backlog or a
// slow subscriber is saved as it goes and does not hold back the next revision long.
const (
	maxDeliveriesPerPass = 20
	deliveryPassTime     = 15 * time.Second
)

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

// checkSubscribers reports misconfigured subscribers, each once per distinct problem,
// in one Event. They keep their progress and are retried when the Secret changes.
func (r *SubprocessorReconciler) checkSubscribers(deliveries *corev1.ConfigMap, state *notify.State, subscribers []notify.Subscriber) {
	var problems []string
	for _, s := range subscribers {
		p := state.Subscribers[s.Name]
		if s.Err == nil || p == nil || p.LastError == s.Err.Error() {
			continue
		}
		p.LastError = s.Err.Error()
		problems = append(problems, fmt.Sprintf("subscriber %s: %s", s.Name, s.Err.Error()))
	}
	if len(problems) > 0 {
		r.Recorder.Eventf(deliveries, nil, corev1.EventTypeWarning, privacyv1alpha1.ReasonSubscriberInvalid, "Notify",
			"%s", truncate(fmt.Sprintf("Secret %s/%s: %s", r.Namespace, r.SubscribersSecret, strings.Join(problems, "; "))))
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
func (r *SubprocessorReconciler) deliver(ctx context.Context, deliveries *corev1.ConfigMap, state *notify.State, subscribers []notify.Subscriber) {
	now := r.Clock.Now()
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
	r.recordOutcomes(deliveries, state, outcomes)
}

func (r *SubprocessorReconciler) deliverTo(ctx context.Context, s notify.Subscriber, due []notify.Notification) outcome {
	o := outcome{subscriber: s.Name}
	deadline := r.Clock.Now().Add(deliveryPassTime)
	for _, n := range due[:min(len(due), maxDeliveriesPerPass)] {
		if len(o.delivered) > 0 && r.Clock.Now().After(deadline) {
			break // the rest is due at once in the next pass
		}
		if err := notify.Post(ctx, r.HTTPClient, s, n); err != nil {
			o.failed, o.err = n.Revision, err
			return o
		}
		o.delivered = append(o.delivered, n.Revision)
	}
	return o
}

// recordOutcomes updates the state and emits at most one Event per kind: the events API
// merges Events of the same reason on the same object version into one series, which
// would hide all notes but the first.
func (r *SubprocessorReconciler) recordOutcomes(deliveries *corev1.ConfigMap, state *notify.State, outcomes []outcome) {
	var delivered, failed []string
	for _, o := range outcomes {
		if n := len(o.delivered); n > 0 {
			notifications.WithLabelValues(o.subscriber, "delivered").Add(float64(n))
			state.Delivered(o.subscriber, o.delivered[n-1])
			delivered = append(delivered, fmt.Sprintf("%s to subscriber %s", revisions(o.delivered), o.subscriber))
		}
		if o.err != nil {
			notifications.WithLabelValues(o.subscriber, "failed").Inc()
			state.Failed(o.subscriber, o.err, r.Clock.Now(), r.Backoff)
			p := state.Subscribers[o.subscriber]
			failed = append(failed, fmt.Sprintf("delivering revision %d to subscriber %s failed (attempt %d, next after %s): %s",
				o.failed, o.subscriber, p.Failures, p.NextAttempt.Format("15:04:05.000"), o.err.Error()))
		}
	}
	if len(delivered) > 0 {
		r.Recorder.Eventf(deliveries, nil, corev1.EventTypeNormal, privacyv1alpha1.ReasonNotificationDelivered, "Notify",
			"%s", truncate("delivered "+strings.Join(delivered, "; ")))
	}
	if len(failed) > 0 {
		r.Recorder.Eventf(deliveries, nil, corev1.EventTypeWarning, privacyv1alpha1.ReasonNotificationFailed, "Notify",
			"%s", truncate(strings.Join(failed, "; ")))
	}
}

func revisions(revs []int64) string {
	if len(revs) == 1 {
		return fmt.Sprintf("revision %d", revs[0])
	}
	return fmt.Sprintf("revisions %d to %d", revs[0], revs[len(revs)-1])
}
