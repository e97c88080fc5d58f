package packaging

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/lethe-operator/lethe/controllers"
)

// The chart creates the fingerprint key the manager reads, a random 32 bytes, unless
// told to use a Secret of the user's.
func TestChartCreatesTheFingerprintKey(t *testing.T) {
	g := NewWithT(t)
	keyOf := func(objs []*unstructured.Unstructured, name string) []byte {
		secret := find(t, objs, "Secret", name)
		g.Expect(secret.GetNamespace()).To(Equal("lethe-system"))
		g.Expect(secret.GetAnnotations()).To(HaveKeyWithValue("helm.sh/resource-policy", "keep"),
			"a new key changes every fingerprint: the Secret outlives the release")
		return fingerprintKey(t, secret)
	}
	first := renderChart(t, "lethe", "lethe-system")
	g.Expect(managerArgs(t, deployment(t, first))).To(ContainElement("--fingerprint-key-secret=" + controllers.DefaultFingerprintKeySecret))
	key := keyOf(first, controllers.DefaultFingerprintKeySecret)
	g.Expect(key).To(HaveLen(32))
	// Without a cluster to look the Secret up in, each render draws a new key.
	g.Expect(keyOf(renderChart(t, "lethe", "lethe-system"), controllers.DefaultFingerprintKeySecret)).NotTo(Equal(key))

	other := renderChart(t, "privacy", "lethe-system")
	g.Expect(managerArgs(t, deployment(t, other))).To(ContainElement("--fingerprint-key-secret=privacy-lethe-fingerprint-key"))
	g.Expect(keyOf(other, "privacy-lethe-fingerprint-key")).To(HaveLen(32))

	for _, tc := range []struct {
		set  []string
		name string
	}{
		{[]string{"--set", "fingerprintKey.existingSecret=gdpr-key"}, "gdpr-key"},
		{[]string{"--set", "fingerprintKey.existingSecret=gdpr-key", "--set", "fingerprintKey.create=false"}, "gdpr-key"},
		{[]string{"--set", "fingerprintKey.create=false"}, "lethe-fingerprint-key"},
	} {
		objs := renderChart(t, "lethe", "lethe-system", tc.set...)
		g.Expect(ofKind(objs, "Secret")).To(BeEmpty(), "%v", tc.set)
		g.Expect(managerArgs(t, deployment(t, objs))).To(ContainElement("--fingerprint-key-secret="+tc.name), "%v", tc.set)
	}
}

// helm install draws the key; helm upgrade finds it in the cluster and keeps it.
func TestFingerprintKeySurvivesUpgrades(t *testing.T) {
	g := NewWithT(t)
	const ns = "lethe-upgrade"
	createRestrictedNamespace(t, ns)
	user, err := testEnv.AddUser(envtest.User{Name: "helm", Groups: []string{"system:masters"}}, nil)
	g.Expect(err).NotTo(HaveOccurred())
	kubeconfig, err := user.KubeConfig()
	g.Expect(err).NotTo(HaveOccurred())
	kubeconfigFile := filepath.Join(t.TempDir(), "kubeconfig")
	g.Expect(os.WriteFile(kubeconfigFile, kubeconfig, 0o600)).To(Succeed())

	// envtest's kube-apiserver, built from the Kubernetes modules, reports version
	// v0.0.0, below the chart's kubeVersion: install a copy of the chart without it.
	chart := filepath.Join(t.TempDir(), "lethe")
	g.Expect(os.CopyFS(chart, os.DirFS(filepath.Join(root, chartPath)))).To(Succeed())
	chartYAML := filepath.Join(chart, "Chart.yaml")
	b, err := os.ReadFile(chartYAML)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(string(b)).To(ContainSubstring("\nkubeVersion:"))
	b = regexp.MustCompile(`(?m)^kubeVersion:.*\n`).ReplaceAll(b, nil)
	g.Expect(os.WriteFile(chartYAML, b, 0o644)).To(Succeed())

	read := func() []byte {
		secret := &corev1.Secret{}
		g.Expect(apiServer.Get(ctx, client.ObjectKey{Namespace: ns, Name: "lethe-upgrade-fingerprint-key"}, secret)).To(Succeed())
		return secret.Data["key"]
	}
	// Without the four-eyes policy, which TestEveryRenderedObjectIsAccepted tries alone.
	out, err := helm("install", "lethe-upgrade", chart, "--namespace", ns, "--kubeconfig", kubeconfigFile,
		"--set", "admission.fourEyes.enabled=false")
	g.Expect(err).NotTo(HaveOccurred(), "helm install:\n%s", out)
	installed := read()
	g.Expect(installed).To(HaveLen(32))
	out, err = helm("upgrade", "lethe-upgrade", chart, "--namespace", ns, "--kubeconfig", kubeconfigFile,
		"--reuse-values", "--set", "manager.logLevel=debug")
	g.Expect(err).NotTo(HaveOccurred(), "helm upgrade:\n%s", out)
	g.Expect(read()).To(Equal(installed), "helm upgrade changed the fingerprint key")
}

// config/default ships no key (it would be in Git for everyone to read), and its
// commented secretGenerator makes the Secret the manager reads from a local key file.
func TestConfigDefaultFingerprintKey(t *testing.T) {
	g := NewWithT(t)
	g.Expect(ofKind(buildKustomize(t), "Secret")).To(BeEmpty(), "config/default ships a Secret")

	objs := buildKustomize(t, fingerprintKeyPart)
	g.Expect(managerArgs(t, deployment(t, objs))).To(ContainElement("--fingerprint-key-secret=" + controllers.DefaultFingerprintKeySecret))
	secret := find(t, objs, "Secret", controllers.DefaultFingerprintKeySecret)
	g.Expect(secret.GetNamespace()).To(Equal("lethe-system"))
	g.Expect(fingerprintKey(t, secret)).To(Equal(kustomizeFingerprintKey))

	gitignore, err := os.ReadFile(filepath.Join(root, "config", "default", ".gitignore"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(strings.Split(string(gitignore), "\n")).To(ContainElement("fingerprint.key"), "the key file must stay out of Git")
}

// fingerprintKey is the decoded key "key" of a rendered Secret.
func fingerprintKey(t *testing.T, secret *unstructured.Unstructured) []byte {
	t.Helper()
	encoded, found, err := unstructured.NestedString(secret.Object, "data", "key")
	if err != nil || !found {
		t.Fatalf("%s has no data.key (%v)", id(secret), err)
	}
	key, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		t.Fatalf("%s: data.key is not base64: %v", id(secret), err)
	}
	return key
}
