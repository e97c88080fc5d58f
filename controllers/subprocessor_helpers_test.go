package controllers

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	privacyv1alpha1 "github.com/lethe-operator/lethe/api/v1alpha1"
	"github.com/lethe-operator/lethe/internal/notify"
	"github.com/lethe-operator/lethe/internal/testenv"
)

// subprocessorNamespace stands for the operator's namespace in these tests.
const subprocessorNamespace = "lethe-system"

// startSubprocessorEnv starts an API server with the operator's namespace.
func startSubprocessorEnv(t *testing.T) *testenv.Env {
	t.Helper()
	env := testenv.Start(t)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: subprocessorNamespace}}
	if err := env.Client.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	return env
}

// startSubprocessorManager runs the Subprocessor controllers in a real manager and
// returns a func that stops it and waits until it has stopped (also run at cleanup).
func startSubprocessorManager(t *testing.T, env *testenv.Env) (stop func()) {
	t.Helper()
	// The manager's logs would drown the test output; failures speak through assertions.
	ctrl.SetLogger(logr.Discard())
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{
		Scheme:                 env.Scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		// A test may start a second manager after stopping the first (a restart).
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	r := &SubprocessorReconciler{
		Namespace: subprocessorNamespace,
		// Short retries keep the tests fast; no assertion depends on their timing.
		Backoff: notify.Backoff{Base: 50 * time.Millisecond, Max: 400 * time.Millisecond},
	}
	if err := r.SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("manager: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// newSubprocessor returns a Subprocessor with a valid spec.
func newSubprocessor(name, country string, mechanism privacyv1alpha1.TransferMechanism, categories ...privacyv1alpha1.Category) *privacyv1alpha1.Subprocessor {
	if len(categories) == 0 {
		categories = []privacyv1alpha1.Category{"contact"}
	}
	return &privacyv1alpha1.Subprocessor{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: privacyv1alpha1.SubprocessorSpec{
			LegalName: name + " Ltd", Purpose: "processes bookings for " + name, Country: country,
			TransferMechanism: mechanism, DataCategories: categories, Since: "2025-01-01",
			DPA: privacyv1alpha1.DataProcessingAgreement{Reference: "DPA-" + name, SignedOn: "2024-12-01"},
		},
	}
}

// eventNotes returns the notes of the Events with reason in namespace.
func eventNotes(g Gomega, c client.Client, namespace, reason string) []string {
	list := &eventsv1.EventList{}
	g.Expect(c.List(context.Background(), list, client.InNamespace(namespace))).To(Succeed())
	var notes []string
	for _, e := range list.Items {
		if e.Reason == reason {
			notes = append(notes, e.Note)
		}
	}
	return notes
}

// newGomega is NewWithT with room for an API server under load: Eventually's timeout
// only bounds how long a failing test waits, nothing asserts on durations.
func newGomega(t *testing.T) *WithT {
	g := NewWithT(t)
	g.SetDefaultEventuallyTimeout(30 * time.Second)
	g.SetDefaultEventuallyPollingInterval(20 * time.Millisecond)
	return g
}
