package packaging

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// kubeVersion is what `helm template` and `helm lint` assume: Helm built without its
// release ldflags believes it talks to Kubernetes 1.20, below the chart's kubeVersion.
const kubeVersion = "1.37.0"

// helm runs the Go-built Helm and returns its combined output.
func helm(args ...string) (string, error) {
	cmd := exec.Command(helmBinary, args...)
	cmd.Dir = root
	// Keep Helm away from the user's configuration and caches.
	home, err := os.MkdirTemp("", "lethe-helm-home-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(home)
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+home, "HELM_CONFIG_HOME="+home, "HELM_DATA_HOME="+home)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// chartPath is the chart, relative to the repository root (Helm runs there).
const chartPath = "charts/lethe"

// values returns the path of a values file under testdata.
func values(name string) string {
	return filepath.Join(root, "test", "packaging", "testdata", name)
}

// renderChart renders the chart with its CRDs as release in namespace, with extra
// `helm template` arguments (-f, --set).
func renderChart(t *testing.T, release, namespace string, args ...string) []*unstructured.Unstructured {
	t.Helper()
	out, err := helm(append([]string{"template", release, chartPath, "--namespace", namespace,
		"--kube-version", kubeVersion, "--include-crds"}, args...)...)
	if err != nil {
		t.Fatalf("helm template %s %v: %v\n%s", release, args, err, out)
	}
	objs, err := decode([]byte(out))
	if err != nil {
		t.Fatalf("helm template %s %v: %v", release, args, err)
	}
	return objs
}

// buildKustomize runs kustomize on config/default. Each optional part names a
// commented `# - ../<part>` line of config/default/kustomization.yaml to switch on, as
// a user would by uncommenting it; the part fingerprintKeyPart uncomments the
// documented secretGenerator and writes its key file, as the comment there says.
func buildKustomize(t *testing.T, optional ...string) []*unstructured.Unstructured {
	t.Helper()
	fsys := filesys.MakeFsInMemory()
	configDir := filepath.Join(root, "config")
	err := filepath.WalkDir(configDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return fsys.WriteFile(path, b)
	})
	if err != nil {
		t.Fatal(err)
	}
	defaultDir := filepath.Join(configDir, "default")
	kustomization := filepath.Join(defaultDir, "kustomization.yaml")
	b, err := fsys.ReadFile(kustomization)
	if err != nil {
		t.Fatal(err)
	}
	for _, part := range optional {
		if part == fingerprintKeyPart {
			b = uncommentSecretGenerator(t, b)
			if err := fsys.WriteFile(filepath.Join(defaultDir, "fingerprint.key"), kustomizeFingerprintKey); err != nil {
				t.Fatal(err)
			}
			continue
		}
		commented := "  # - ../" + part + "\n"
		if !bytes.Contains(b, []byte(commented)) {
			t.Fatalf("config/default/kustomization.yaml has no line %q to uncomment", strings.TrimSpace(commented))
		}
		b = bytes.Replace(b, []byte(commented), []byte("  - ../"+part+"\n"), 1)
	}
	if err := fsys.WriteFile(kustomization, b); err != nil {
		t.Fatal(err)
	}
	resources, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fsys, defaultDir)
	if err != nil {
		t.Fatalf("kustomize build config/default %v: %v", optional, err)
	}
	out, err := resources.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	objs, err := decode(out)
	if err != nil {
		t.Fatalf("kustomize build config/default: %v", err)
	}
	return objs
}

// fingerprintKeyPart is buildKustomize's name for config/default's commented
// secretGenerator of the fingerprint key, and kustomizeFingerprintKey the key it reads.
const fingerprintKeyPart = "fingerprint-key"

var kustomizeFingerprintKey = []byte("0123456789abcdef0123456789abcdef")

// uncommentSecretGenerator removes the "# " before the `# secretGenerator:` line of a
// kustomization and the indented comment lines that follow it.
func uncommentSecretGenerator(t *testing.T, b []byte) []byte {
	t.Helper()
	lines := strings.SplitAfter(string(b), "\n")
	start := slices.Index(lines, "# secretGenerator:\n")
	if start < 0 {
		t.Fatal("config/default/kustomization.yaml has no line \"# secretGenerator:\" to uncomment")
	}
	lines[start] = strings.TrimPrefix(lines[start], "# ")
	for i := start + 1; i < len(lines) && strings.HasPrefix(lines[i], "#   "); i++ {
		lines[i] = strings.TrimPrefix(lines[i], "# ")
	}
	return []byte(strings.Join(lines, ""))
}

// decode splits a YAML stream into objects, skipping empty documents.
func decode(stream []byte) ([]*unstructured.Unstructured, error) {
	reader := k8syaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(stream)))
	var objs []*unstructured.Unstructured
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, err
		}
		js, err := yaml.YAMLToJSON(doc)
		if err != nil {
			return nil, err
		}
		if s := string(bytes.TrimSpace(js)); s == "null" || s == "{}" {
			continue
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(js); err != nil {
			return nil, err
		}
		objs = append(objs, u)
	}
}

// readObjects decodes the YAML files matching pattern (relative to the repository root).
func readObjects(t *testing.T, pattern string) []*unstructured.Unstructured {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(root, pattern))
	if err != nil || len(files) == 0 {
		t.Fatalf("no files match %s (%v)", pattern, err)
	}
	var objs []*unstructured.Unstructured
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		o, err := decode(b)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		objs = append(objs, o...)
	}
	return objs
}

// ofKind returns the objects of one kind.
func ofKind(objs []*unstructured.Unstructured, kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == kind {
			out = append(out, o)
		}
	}
	return out
}

// find returns the one object of kind and name, failing the test if there is none.
func find(t *testing.T, objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	t.Fatalf("no %s %q among %s", kind, name, describe(objs))
	return nil
}

// describe lists objects as kind/namespace/name, for failure messages.
func describe(objs []*unstructured.Unstructured) string {
	var ids []string
	for _, o := range objs {
		ids = append(ids, id(o))
	}
	return strings.Join(ids, ", ")
}

func id(o *unstructured.Unstructured) string {
	if o.GetNamespace() == "" {
		return o.GetKind() + "/" + o.GetName()
	}
	return o.GetKind() + "/" + o.GetNamespace() + "/" + o.GetName()
}
