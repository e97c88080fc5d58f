// Command lethe is the Lethe operator. One binary serves two roles:
//
//	lethe manager   the controller manager (the control plane)
//	lethe worker    the data plane a Job runs: one plan against one tenant database
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	privacyv1alpha1 "github.com/lethe-operator/lethe/api/v1alpha1"
	"github.com/lethe-operator/lethe/internal/worker"
)

const usage = `usage: lethe <command> [flags]

commands:
  manager   run the controller manager
  worker    run one plan against one tenant database (what a Job runs)

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
}

func runManager(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	var f managerFlags
	fs.StringVar(&f.metricsAddr, "metrics-bind-address", ":8080", "address the Prometheus metrics endpoint binds to (0 disables it)")
	fs.StringVar(&f.probeAddr, "health-probe-bind-address", ":8081", "address the health and readiness probes bind to")
	fs.BoolVar(&f.leaderElect, "leader-elect", false, "elect a leader so only one manager replica is active")
	fs.StringVar(&f.leaderElectNamespace, "leader-election-namespace", "", "namespace of the leader-election lease (default: the pod's namespace)")
	zapOpts := zap.Options{}
	zapOpts.BindFlags(fs) // --zap-encoder=json|console, --zap-log-level, ...
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	log := ctrl.Log.WithName("setup")

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
