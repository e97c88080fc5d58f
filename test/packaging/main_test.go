// Package packaging tests what installs Lethe: the Helm chart (charts/lethe), the
// kustomize tree (config/), the RBAC and the Dockerfile. Helm is built from its Go
// module (go.mod's tool directive), kustomize runs as a library, and the rendered
// objects are applied to a real kube-apiserver (envtest).
package packaging

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/lethe-operator/lethe/internal/testenv"
)

// The package's shared fixtures, set up once by TestMain.
var (
	// root is the repository's root directory.
	root string
	// helmBinary is Helm built from the helm.sh/helm/v3 module in go.mod.
	helmBinary string
	// letheBinary is the operator's binary ($LETHE_BINARY, else built here).
	letheBinary string
	// apiServer is a client of the envtest API server, with strict field validation:
	// a field the API does not know fails the request instead of being dropped.
	apiServer client.Client
	// testEnv is the envtest environment behind apiServer, for kubeconfigs (Helm).
	testEnv *envtest.Environment
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	var err error
	if root, err = testenv.RepoRoot(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	tmp, err := os.MkdirTemp("", "lethe-packaging-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)

	// Build Helm and Lethe while the API server starts.
	var wg sync.WaitGroup
	var helmErr, letheErr error
	helmBinary = filepath.Join(tmp, "helm")
	letheBinary = os.Getenv("LETHE_BINARY")
	wg.Add(1)
	go func() {
		defer wg.Done()
		helmErr = goBuild(helmBinary, "helm.sh/helm/v3/cmd/helm")
	}()
	if letheBinary == "" {
		letheBinary = filepath.Join(tmp, "lethe")
		wg.Add(1)
		go func() {
			defer wg.Done()
			letheErr = goBuild(letheBinary, ".")
		}()
	}
	env, startErr := startAPIServer()
	testEnv = env
	wg.Wait()
	if env != nil {
		defer func() { _ = env.Stop() }()
	}
	for _, err := range []error{startErr, helmErr, letheErr} {
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	return m.Run()
}

func goBuild(out, pkg string) error {
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
	}
	return nil
}

// startAPIServer starts kube-apiserver and etcd with no CRDs but minimal ones of the
// Prometheus Operator: Lethe's own CRDs come from the renders under test.
func startAPIServer() (*envtest.Environment, error) {
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		assets = filepath.Join(root, "bin", "k8s")
	}
	for _, bin := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(assets, bin)); err != nil {
			return nil, fmt.Errorf("%s not found in %s: run `make test-deps` (hack/envtest-binaries.sh builds it from the Kubernetes Go modules)", bin, assets)
		}
	}
	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(apiextensionsv1.AddToScheme(scheme))
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(root, "test", "packaging", "testdata", "crds")},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: assets,
		Scheme:                scheme,
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("starting kube-apiserver and etcd: %w", err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		_ = env.Stop()
		return nil, err
	}
	apiServer = client.WithFieldValidation(c, "Strict")
	return env, nil
}

// ctx is the context of API calls; tests end by their own timeouts.
var ctx = context.Background()
