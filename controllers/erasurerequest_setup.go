package controllers

import (
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
)

// ErasureOptions tune the ErasureRequest controllers; zero values take the defaults.
type ErasureOptions struct {
	// Window is how long a database's first pending request waits for others to share
	// its Job (default 10s).
	Window time.Duration
	// RetryBackoff is the first wait after a failed run, doubled per attempt (default 30s).
	RetryBackoff time.Duration
	// BatchSize caps the requests in one Job (default 100); a Job also takes no more
	// requests than its report has room for in the termination message.
	BatchSize int
	// BurstHold is how much longer than Window a due batch waits for requests of the
	// namespace still being fingerprinted that select its database (default 30s).
	BurstHold time.Duration
	// FingerprintKeySecret names the Secret in the operator's namespace whose key "key"
	// holds the fingerprint HMAC key (default lethe-fingerprint-key).
	FingerprintKeySecret string
}

// setupErasure registers the two ErasureRequest controllers: one per request (status,
// deadline, fingerprint, receipt) and one per database (batches and their Jobs).
func setupErasure(mgr ctrl.Manager, o Options) error {
	if err := (&ErasureRequestReconciler{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Scheme: mgr.GetScheme(),
		Recorder: mgr.GetEventRecorder("lethe-erasurerequest"), Clock: o.Clock,
		OperatorNamespace: o.OperatorNamespace, FingerprintKeySecret: o.Erasure.FingerprintKeySecret,
	}).SetupWithManager(mgr); err != nil {
		return err
	}
	return (&ErasureBatchReconciler{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Scheme: mgr.GetScheme(),
		Recorder: mgr.GetEventRecorder("lethe-erasurerequest"), Jobs: o.Jobs, Clock: o.Clock,
		Window: o.Erasure.Window, RetryBackoff: o.Erasure.RetryBackoff, BatchSize: o.Erasure.BatchSize,
		BurstHold: o.Erasure.BurstHold,
	}).SetupWithManager(mgr)
}
