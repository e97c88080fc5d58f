package packaging

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	"golang.org/x/mod/modfile"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	privacyv1alpha1 "github.com/lethe-operator/lethe/api/v1alpha1"
	"github.com/lethe-operator/lethe/controllers"
	"github.com/lethe-operator/lethe/internal/plan"
)

// notInTheChart are the manager's flags the chart leaves at their defaults, and why.
// A new flag fails TestChartSetsEveryManagerFlag until it gets a value or a line here.
var notInTheChart = map[string]string{
	"local-job-runner":          "runs Jobs as local processes: tests and make demo only",
	"local-job-runner-binary":   "belongs to --local-job-runner",
	"namespace":                 "defaults to $POD_NAMESPACE, which the Deployment sets from the downward API",
	"leader-election-namespace": "defaults to the pod's namespace, where the chart's leader-election Role is",
	"zap-devel":                 "development logging; manager.extraArgs can set it",
	"zap-stacktrace-level":      "manager.extraArgs can set it",
	"zap-time-encoding":         "manager.extraArgs can set it",
}

// managerFlags are the flags `lethe manager -h` lists.
func managerFlags(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command(letheBinary, "manager", "-h").CombinedOutput()
	// -h exits with 2 after printing the flags.
	if exitErr, ok := err.(*exec.ExitError); err != nil && (!ok || exitErr.ExitCode() != 2) {
		t.Fatalf("%s manager -h: %v\n%s", letheBinary, err, out)
	}
	var flags []string
	for _, m := range regexp.MustCompile(`(?m)^  -([a-z0-9-]+)`).FindAllStringSubmatch(string(out), -1) {
		flags = append(flags, m[1])
	}
	if len(flags) == 0 {
		t.Fatalf("%s manager -h lists no flags:\n%s", letheBinary, out)
	}
	return flags
}

// Every flag the chart or config/manager passes exists, so the manager starts.
func TestManagerAcceptsEveryRenderedFlag(t *testing.T) {
	known := managerFlags(t)
	for name, objs := range map[string][]*unstructured.Unstructured{
		"chart, default values":      renderChart(t, "lethe", "lethe-system"),
		"chart, everything switched": renderChart(t, "lethe", "lethe-system", "-f", values("values-all.yaml")),
		"config/default":             buildKustomize(t),
	} {
		for _, arg := range managerArgs(t, deployment(t, objs)) {
			if !strings.HasPrefix(arg, "--") {
				t.Errorf("%s: manager argument %q is not a --flag", name, arg)
			} else if !slices.Contains(known, flagName(arg)) {
				t.Errorf("%s: `lethe manager` has no flag --%s", name, flagName(arg))
			}
		}
	}
}

func TestChartSetsEveryManagerFlag(t *testing.T) {
	set := map[string]bool{}
	for _, arg := range managerArgs(t, deployment(t, renderChart(t, "lethe", "lethe-system"))) {
		set[flagName(arg)] = true
	}
	for _, flag := range managerFlags(t) {
		if _, skipped := notInTheChart[flag]; !set[flag] && !skipped {
			t.Errorf("the chart does not set --%s: give it a value in charts/lethe/values.yaml (and config/manager), or say why not in notInTheChart", flag)
		}
	}
	for flag := range notInTheChart {
		if set[flag] {
			t.Errorf("--%s is in notInTheChart but the chart sets it", flag)
		}
	}
}

// dockerfile is the parsed Dockerfile: its FROM lines and final instructions.
type dockerfile struct {
	from                 []string
	user, entrypoint     string
	cmd, text, buildTool string
}

func parseDockerfile(t *testing.T) dockerfile {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	d := dockerfile{text: string(b)}
	for _, line := range strings.Split(string(b), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		rest := strings.TrimSpace(strings.TrimPrefix(line, fields[0]))
		switch fields[0] {
		case "FROM":
			image := fields[1]
			if strings.HasPrefix(image, "--platform") {
				image = fields[2]
			}
			d.from = append(d.from, image)
		case "USER":
			d.user = rest
		case "ENTRYPOINT":
			d.entrypoint = rest
		case "CMD":
			d.cmd = rest
		}
	}
	return d
}

func execForm(t *testing.T, instruction string) []string {
	t.Helper()
	var out []string
	if err := json.Unmarshal([]byte(instruction), &out); err != nil {
		t.Fatalf("%q is not in exec form (a JSON array): %v", instruction, err)
	}
	return out
}

// The image the Dockerfile builds runs as the Deployment and the worker Jobs expect.
func TestDockerfileMatchesTheDeploymentAndTheJobs(t *testing.T) {
	g := NewWithT(t)
	d := parseDockerfile(t)

	g.Expect(d.from).To(HaveLen(2), "a build stage and a final stage")
	goMod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	g.Expect(err).NotTo(HaveOccurred())
	mod, err := modfile.ParseLax("go.mod", goMod, nil)
	g.Expect(err).NotTo(HaveOccurred())
	goMinor := strings.Join(strings.SplitN(mod.Go.Version, ".", 3)[:2], ".")
	g.Expect(d.from[0]).To(HavePrefix("golang:"+goMinor), "the build stage's Go is go.mod's")
	g.Expect(d.from[1]).To(Equal("gcr.io/distroless/static:nonroot"))
	g.Expect(d.text).To(ContainSubstring("CGO_ENABLED=0"))
	g.Expect(d.text).To(ContainSubstring("-trimpath"))
	g.Expect(d.user).To(Equal("65532:65532"))

	entrypoint, cmd := execForm(t, d.entrypoint), execForm(t, d.cmd)
	g.Expect(entrypoint).To(Equal([]string{"/lethe"}))
	g.Expect(cmd).To(Equal([]string{"manager"}))

	for name, objs := range map[string][]*unstructured.Unstructured{
		"chart":          renderChart(t, "lethe", "lethe-system"),
		"config/default": buildKustomize(t),
	} {
		dep := deployment(t, objs)
		c := dep.Spec.Template.Spec.Containers[0]
		g.Expect(c.Command).To(Equal(entrypoint), "%s: the container's command is the image's entrypoint", name)
		g.Expect(c.Args[:1]).To(Equal(cmd), "%s: the first argument is the image's default subcommand", name)
		sc := dep.Spec.Template.Spec.SecurityContext
		g.Expect(sc.RunAsUser).To(HaveValue(Equal(int64(65532))), "%s: runAsUser is the image's USER", name)
		g.Expect(sc.RunAsGroup).To(HaveValue(Equal(int64(65532))), "%s: runAsGroup is the image's USER group", name)
		g.Expect(c.Image).To(HavePrefix(imageRepository(controllers.DefaultJobSettings().Image)+":"),
			"%s: the manager's image is the repository the worker Jobs default to", name)
	}

	// The worker Jobs the manager builds start the same binary, as the same user.
	_, job, err := controllers.BuildJob(controllers.DefaultJobSettings(), controllers.WorkerJob{
		Owner:     &metav1.ObjectMeta{Name: "hotel-aurora", Namespace: "tenant-a"},
		OwnerKind: "TenantDatabase",
		Plan:      plan.Plan{Kind: plan.KindVerify},
		Database: &privacyv1alpha1.TenantDatabase{
			ObjectMeta: metav1.ObjectMeta{Name: "hotel-aurora", Namespace: "tenant-a"},
			Spec: privacyv1alpha1.TenantDatabaseSpec{Engine: privacyv1alpha1.EnginePostgres, Host: "db", Port: 5432,
				Database: "aurora", CredentialsSecretRef: privacyv1alpha1.CredentialsRef{Name: "aurora-db"}},
		},
	})
	g.Expect(err).NotTo(HaveOccurred())
	pod := job.Spec.Template.Spec
	g.Expect(pod.Containers[0].Command).To(Equal(entrypoint), "the worker Job's command is the image's entrypoint")
	g.Expect(pod.Containers[0].Args[0]).To(Equal("worker"))
	g.Expect(pod.SecurityContext.RunAsUser).To(HaveValue(Equal(int64(65532))))
	g.Expect(pod.ServiceAccountName).To(Equal("lethe-worker"), "the chart's default worker.serviceAccount.name")
}

// imageRepository strips the tag or digest from an image reference.
func imageRepository(image string) string {
	if i := strings.Index(image, "@"); i >= 0 {
		image = image[:i]
	}
	if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
		image = image[:i]
	}
	return image
}

func TestDockerignoreKeepsTheGoModule(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		switch strings.Trim(strings.TrimSpace(line), "/") {
		case "go.mod", "go.sum", "main.go", "api", "controllers", "internal", "*", "**", "*.go":
			t.Errorf(".dockerignore excludes %q, which `go build .` needs", line)
		}
	}
}
