package controllers

import (
	"io"

	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/lethe-operator/lethe/internal/jobrunner"
)

// Options configure the controllers.
type Options struct {
	// Jobs are the settings of every worker Job.
	Jobs JobSettings
	// LocalJobRunner runs Lethe's Jobs as local processes instead of leaving them to
	// kubelet: for tests and `make demo` only.
	LocalJobRunner bool
	// LocalJobRunnerBinary is the lethe binary the local job runner starts (default: this one).
	LocalJobRunnerBinary string
	// LocalJobRunnerOutput, when set, receives the workers' stdout and stderr.
	LocalJobRunnerOutput io.Writer
	// OperatorNamespace is where the operator keeps its own objects (the subprocessor
	// register, keys for fingerprints).
	OperatorNamespace string
	// SubprocessorRegister and SubprocessorSubscribers name the register's ConfigMap and the
	// subscribers' Secret in OperatorNamespace (defaults: DefaultSubprocessorRegister and
	// DefaultSubprocessorSubscribers).
	SubprocessorRegister    string
	SubprocessorSubscribers string
	// Clock is the controllers' time source (tests inject one).
	Clock clock.PassiveClock
	// Erasure tunes ErasureRequests: coalescing window, retry backoff, fingerprint key.
	Erasure ErasureOptions
}

// Setup registers every Lethe controller with the manager.
func Setup(mgr ctrl.Manager, o Options) error {
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if err := (&TenantDatabaseReconciler{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Scheme: mgr.GetScheme(),
		Recorder: mgr.GetEventRecorder("lethe-tenantdatabase"), Jobs: o.Jobs, Clock: o.Clock,
	}).SetupWithManager(mgr); err != nil {
		return err
	}
	if err := (&DataMapReconciler{
		Client: mgr.GetClient(), Scheme: mgr.GetScheme(), Recorder: mgr.GetEventRecorder("lethe-datamap"),
	}).SetupWithManager(mgr); err != nil {
		return err
	}
	if err := (&RetentionPolicyReconciler{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Scheme: mgr.GetScheme(),
		Recorder: mgr.GetEventRecorder("lethe-retentionpolicy"), Jobs: o.Jobs, Clock: o.Clock,
	}).SetupWithManager(mgr); err != nil {
		return err
	}
	if err := setupErasure(mgr, o); err != nil {
		return err
	}
	if err := (&AccessRequestReconciler{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Scheme: mgr.GetScheme(),
		Recorder: mgr.GetEventRecorder("lethe-accessrequest"), Jobs: o.Jobs, Clock: o.Clock,
		OperatorNamespace: o.OperatorNamespace, FingerprintKeySecret: o.Erasure.FingerprintKeySecret,
	}).SetupWithManager(mgr); err != nil {
		return err
	}
	if o.OperatorNamespace != "" {
		if err := (&SubprocessorReconciler{
			Namespace: o.OperatorNamespace, RegisterName: o.SubprocessorRegister,
			SubscribersSecret: o.SubprocessorSubscribers, Clock: o.Clock,
		}).SetupWithManager(mgr); err != nil {
			return err
		}
	}
	if o.LocalJobRunner {
		runner := &jobrunner.Runner{Client: mgr.GetClient(), Binary: o.LocalJobRunnerBinary,
			LabelKey: LabelManagedBy, LabelValue: ManagedByLethe, Output: o.LocalJobRunnerOutput}
		if err := runner.SetupWithManager(mgr); err != nil {
			return err
		}
	}
	return nil
}
