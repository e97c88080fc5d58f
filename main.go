// Command lethe is the Lethe operator. One binary serves two roles:
//
//	lethe manager   the controller manager (the control plane)
//	lethe worker    the data plane a Job runs: one plan against one tenant database
//	lethe datamap   tools for DataMaps: draft one from a database's catalog
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	privacyv1alpha1 "github.com/lethe-operator/lethe/api/v1alpha1"
	"github.com/lethe-operator/lethe/controllers"
	"github.com/lethe-operator/lethe/internal/draft"
	"github.com/lethe-operator/lethe/internal/worker"
)

const usage = `usage: lethe <command> [flags]

commands:
  manager   run the controller manager
  worker    run one plan against one tenant database (what a Job runs)
  datamap   draft a DataMap from a database's catalog ("lethe datamap draft --dsn ...")

Run "lethe <command> -h" for a command's flags.`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch os.Args[1] {
	case "manager":
		os.Exit(runManager(ctx, os.Args[2:]))
	case "worker":
		os.Exit(worker.Main(ctx, os.Args[2:], os.Stdout, os.Stderr))
	case "datamap":
		os.Exit(draft.Main(ctx, os.Args[2:], os.Stdout, os.Stderr))
	case "-h", "--help", "help":
		fmt.Println(usage)
	default:
		fmt.Fprintf(os.Stderr, "lethe: unknown command %q\n\n%s\n", os.Args[1], usage)
		os.Exit(2)
	}
}

// newScheme returns the scheme with the Kubernetes types Lethe uses and its own API.
func newScheme() *runtime.Scheme {
	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(privacyv1alpha1.AddToScheme(scheme))
	return scheme
}

// managerFlags are the manager's command-line settings.
type managerFlags struct {
	metricsAddr          string
	probeAddr            string
	leaderElect          bool
	leaderElectNamespace string
	controllers          controllers.Options
	workerCPURequest     string
	workerMemoryRequest  string
	workerMemoryLimit    string
}

// bindJobFlags binds the settings of the worker Jobs (Helm values set these).
func bindJobFlags(fs *flag.FlagSet, f *managerFlags) {
	j := &f.controllers.Jobs
	*j = controllers.DefaultJobSettings()
	fs.StringVar(&j.Image, "worker-image", j.Image, "image of the worker Jobs (this operator's own image)")
	fs.StringVar(&j.ServiceAccountName, "worker-service-account", j.ServiceAccountName, "ServiceAccount the worker pods run as")
	fs.StringVar(&j.ExportServiceAccountName, "export-service-account", j.ExportServiceAccountName,
		"ServiceAccount the export Jobs run as; it needs create on secrets where AccessRequests are filed")
	fs.StringVar(&j.DraftServiceAccountName, "draft-service-account", j.DraftServiceAccountName,
		"ServiceAccount the DataMap draft Jobs run as; it needs create on configmaps where TenantDatabases are")
	fs.Var((*int32Value)(&j.TTLSecondsAfterFinished), "job-ttl-seconds", "seconds a finished worker Job is kept")
	fs.Int64Var(&j.ActiveDeadlineSeconds, "job-active-deadline-seconds", j.ActiveDeadlineSeconds, "seconds a worker Job may run")
	fs.Var((*int32Value)(&j.BackoffLimit), "job-backoff-limit", "retries of a failed worker pod")
	fs.BoolVar(&j.AllowLinkLocalHosts, "allow-link-local-hosts", false,
		"let worker Jobs connect to database hosts that resolve to link-local or cloud metadata addresses (169.254.0.0/16, fe80::/10, 169.254.169.254, fd00:ec2::254, ...); literal ones are refused at admission either way")
	fs.StringVar(&f.workerCPURequest, "worker-cpu-request", "100m", "CPU request of a worker pod")
	fs.StringVar(&f.workerMemoryRequest, "worker-memory-request", "64Mi", "memory request of a worker pod")
	fs.StringVar(&f.workerMemoryLimit, "worker-memory-limit", "256Mi", "memory limit of a worker pod")
	fs.StringVar(&f.controllers.OperatorNamespace, "namespace", operatorNamespace(),
		"namespace of the operator's own objects (default: $POD_NAMESPACE, else lethe-system)")
	fs.BoolVar(&f.controllers.LocalJobRunner, "local-job-runner", false,
		"run worker Jobs as local processes instead of pods (tests and make demo only)")
	fs.StringVar(&f.controllers.LocalJobRunnerBinary, "local-job-runner-binary", "", "lethe binary the local job runner starts (default: this one)")
}

// operatorNamespace is the namespace the manager runs in, from the downward API.
func operatorNamespace() string {
	if ns := os.Getenv("POD_NAMESPACE"); ns != "" {
		return ns
	}
	return "lethe-system"
}

// workerResources parses the worker pods' resource flags.
func (f *managerFlags) workerResources() (corev1.ResourceRequirements, error) {
	parse := func(name, v string) (resource.Quantity, error) {
		q, err := resource.ParseQuantity(v)
		if err != nil {
			return q, fmt.Errorf("--%s=%q: %w", name, v, err)
		}
		return q, nil
	}
	cpu, err := parse("worker-cpu-request", f.workerCPURequest)
	if err != nil {
		return corev1.ResourceRequirements{}, err
	}
	mem, err := parse("worker-memory-request", f.workerMemoryRequest)
	if err != nil {
		return corev1.ResourceRequirements{}, err
	}
	limit, err := parse("worker-memory-limit", f.workerMemoryLimit)
	if err != nil {
		return corev1.ResourceRequirements{}, err
	}
	return corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: cpu, corev1.ResourceMemory: mem},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: limit},
	}, nil
}

// int32Value is a flag.Value for int32 settings.
type int32Value int32

func (v *int32Value) String() string { return strconv.Itoa(int(*v)) }
func (v *int32Value) Set(s string) error {
	n, err := strconv.ParseInt(s, 10, 32)
	*v = int32Value(n)
	return err
}

func runManager(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	var f managerFlags
	fs.StringVar(&f.metricsAddr, "metrics-bind-address", ":8080", "address the Prometheus metrics endpoint binds to (0 disables it)")
	fs.StringVar(&f.probeAddr, "health-probe-bind-address", ":8081", "address the health and readiness probes bind to")
	fs.BoolVar(&f.leaderElect, "leader-elect", false, "elect a leader so only one manager replica is active")
	fs.StringVar(&f.leaderElectNamespace, "leader-election-namespace", "", "namespace of the leader-election lease (default: the pod's namespace)")
	bindJobFlags(fs, &f)
	fs.StringVar(&f.controllers.SubprocessorRegister, "subprocessor-register", controllers.DefaultSubprocessorRegister,
		"ConfigMap, in --namespace, that publishes the Subprocessor register (register.json, register.md)")
	fs.StringVar(&f.controllers.SubprocessorSubscribers, "subprocessor-subscribers", controllers.DefaultSubprocessorSubscribers,
		"Secret, in --namespace, listing the webhooks notified of register changes (keys NAME.url and NAME.secret)")
	fs.StringVar(&f.controllers.Erasure.FingerprintKeySecret, "fingerprint-key-secret", controllers.DefaultFingerprintKeySecret,
		"Secret, in --namespace, whose key \"key\" holds the HMAC key of subject fingerprints")
	fs.DurationVar(&f.controllers.Erasure.Window, "erasure-batch-window", controllers.DefaultErasureWindow,
		"how long a database's first pending ErasureRequest waits for others to share its erasure Job")
	zapOpts := zap.Options{}
	zapOpts.BindFlags(fs) // --zap-encoder=json|console, --zap-log-level, ...
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	log := ctrl.Log.WithName("setup")
	resources, err := f.workerResources()
	if err != nil {
		log.Error(err, "invalid worker resources")
		return 2
	}
	f.controllers.Jobs.Resources = resources

	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{
		Scheme:                        newScheme(),
		Metrics:                       metricsserver.Options{BindAddress: f.metricsAddr},
		HealthProbeBindAddress:        f.probeAddr,
		LeaderElection:                f.leaderElect,
		LeaderElectionID:              "lethe.privacy.lethe.dev",
		LeaderElectionNamespace:       f.leaderElectNamespace,
		LeaderElectionReleaseOnCancel: true,
	})
	if err != nil {
		log.Error(err, "unable to create the manager")
		return 1
	}
	if err := controllers.Setup(mgr, f.controllers); err != nil {
		log.Error(err, "unable to set up the controllers")
		return 1
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		log.Error(err, "unable to set up the health check")
		return 1
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		log.Error(err, "unable to set up the readiness check")
		return 1
	}
	log.Info("starting the manager")
	if err := mgr.Start(ctx); err != nil {
		log.Error(err, "the manager stopped with an error")
		return 1
	}
	return 0
}
