// Package jobrunner is a stand-in for kubelet and the Job controller, for tests and
// `make demo` only (enabled by the manager's --local-job-runner flag, off by default).
//
// It watches Jobs labelled as Lethe's, runs the worker container's command — the real
// built binary — as a local process with the container's environment and its mounted
// ConfigMaps and Secrets written to a temp dir, creates the Pod object with the Job's
// labels, writes the Pod's terminated state and termination message, and marks the Job
// Complete or Failed. Everything else the controllers see is the real API server.
package jobrunner

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"

	batchv1 "k8s.io/api/batch/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
)

// Runner runs Lethe's Jobs as local processes.
type Runner struct {
	Client client.Client
	// Binary is the lethe binary that stands in for the container image's entrypoint.
	Binary string
	// Selector picks the Jobs to run (Lethe's label).
	LabelKey, LabelValue string
	// Config reaches the API server for pods that mount their ServiceAccount token: the
	// process gets a kubeconfig acting as the pod's ServiceAccount (default: the manager's).
	Config *rest.Config

	direct  client.Client
	mu      sync.Mutex
	running map[types.NamespacedName]process
	// Output, when set, receives every container's stdout and stderr (tests search it).
	Output io.Writer
}

// process is one Job's run, known by the Job's UID: a Job deleted and created again
// under the same name is new work.
type process struct {
	uid    types.UID
	cancel context.CancelFunc
}

// SetupWithManager registers the runner as a controller of Jobs.
func (r *Runner) SetupWithManager(mgr ctrl.Manager) error {
	if r.Binary == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("jobrunner: finding the lethe binary: %w", err)
		}
		r.Binary = exe
	}
	r.running = map[types.NamespacedName]process{}
	if r.Config == nil {
		r.Config = mgr.GetConfig()
	}
	// Runs read what they just wrote (their Pod, the Job): they use the API server
	// directly rather than the manager's cache.
	direct, err := client.New(mgr.GetConfig(), client.Options{Scheme: mgr.GetScheme(), Mapper: mgr.GetRESTMapper()})
	if err != nil {
		return err
	}
	r.direct = direct
	selected := predicate.NewPredicateFuncs(func(o client.Object) bool {
		return o.GetLabels()[r.LabelKey] == r.LabelValue
	})
	// Processes end with the manager; a new manager runs unfinished Jobs again, as kubelet
	// restarts a pod whose node went away.
	if err := mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		<-ctx.Done()
		r.Stop()
		return nil
	})); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("local-job-runner").
		For(&batchv1.Job{}, builder.WithPredicates(selected)).
		Complete(r)
}

// Reconcile starts a process for a new Job and stops it when the Job is deleted, as
// kubelet kills a deleted Job's pod.
func (r *Runner) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	job := &batchv1.Job{}
	if err := r.Client.Get(ctx, req.NamespacedName, job); err != nil {
		if apierrors.IsNotFound(err) {
			r.stop(req.NamespacedName, "")
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	if job.DeletionTimestamp != nil || finished(job) || (job.Spec.Suspend != nil && *job.Spec.Suspend) {
		r.stop(req.NamespacedName, job.UID)
		return ctrl.Result{}, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if p, ok := r.running[req.NamespacedName]; ok {
		if p.uid == job.UID {
			return ctrl.Result{}, nil
		}
		p.cancel() // the old Job of this name is gone
	}
	// Runs outlive the reconcile: they end with the Job, its deadline, or the manager.
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r.running[req.NamespacedName] = process{uid: job.UID, cancel: cancel}
	go func() {
		defer r.stop(req.NamespacedName, job.UID)
		(&run{client: r.direct, binary: r.Binary, job: job.DeepCopy(), config: r.Config, output: r.Output}).execute(runCtx)
	}()
	return ctrl.Result{}, nil
}

// stop ends the run of the named Job; with a uid, only that Job's run.
func (r *Runner) stop(name types.NamespacedName, uid types.UID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p, ok := r.running[name]; ok && (uid == "" || p.uid == uid) {
		p.cancel()
		delete(r.running, name)
	}
}

// Stop ends every running process (the manager is shutting down).
func (r *Runner) Stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for name, p := range r.running {
		p.cancel()
		delete(r.running, name)
	}
}

func finished(job *batchv1.Job) bool {
	for _, c := range job.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == "True" {
			return true
		}
	}
	return false
}
