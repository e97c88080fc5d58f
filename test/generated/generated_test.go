// Package generated checks that the files controller-gen writes (CRDs, RBAC, deepcopy)
// match the API types and markers: run `make generate manifests` when this fails.
package generated

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/lethe-operator/lethe/internal/testenv"
)

func TestGeneratedFilesAreUpToDate(t *testing.T) {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	crds, rbac, object := filepath.Join(out, "crd"), filepath.Join(out, "rbac"), filepath.Join(out, "object")
	controllerGen(t, root, "object:headerFile=hack/boilerplate.go.txt", `paths=./api/...`, "output:object:dir="+object)
	controllerGen(t, root, "rbac:roleName=lethe-manager", "crd", `paths=./api/...;./controllers/...;./internal/...`,
		"output:crd:artifacts:config="+crds, "output:rbac:artifacts:config="+rbac)

	sameDir(t, crds, filepath.Join(root, "config", "crd", "bases"))
	sameDir(t, crds, filepath.Join(root, "charts", "lethe", "crds"))
	sameDir(t, rbac, filepath.Join(root, "config", "rbac"), "role.yaml")
	sameDir(t, object, filepath.Join(root, "api", "v1alpha1"), "zz_generated.deepcopy.go")
}

func controllerGen(t *testing.T, root string, args ...string) {
	t.Helper()
	cmd := exec.Command("go", append([]string{"tool", "controller-gen"}, args...)...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("controller-gen %v: %v\n%s", args, err, out)
	}
}

// sameDir checks that every file generated into want is identical in got. With names,
// only those files are compared (got holds hand-written files too); without, got must
// hold exactly the generated files.
func sameDir(t *testing.T, want, got string, names ...string) {
	t.Helper()
	if len(names) == 0 {
		entries, err := os.ReadDir(want)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			names = append(names, e.Name())
		}
		gotEntries, _ := os.ReadDir(got)
		if len(gotEntries) != len(entries) {
			t.Errorf("%s has %d files, controller-gen writes %d: run `make manifests`", got, len(gotEntries), len(entries))
		}
	}
	for _, name := range names {
		w, err := os.ReadFile(filepath.Join(want, name))
		if err != nil {
			// controller-gen wrote nothing by that name: then there must be none.
			if _, statErr := os.Stat(filepath.Join(got, name)); statErr == nil {
				t.Errorf("%s is stale: controller-gen no longer writes it; run `make generate manifests`", filepath.Join(got, name))
			}
			continue
		}
		g, err := os.ReadFile(filepath.Join(got, name))
		if err != nil || !bytes.Equal(w, g) {
			t.Errorf("%s is stale: run `make generate manifests`", filepath.Join(got, name))
		}
	}
}
