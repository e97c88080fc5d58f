package worker

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/lethe-operator/lethe/internal/plan"
)

// MaxExportBytes is the most data an export Secret carries: the API server refuses a
// Secret over 1 MiB, and the margin leaves room for its keys and metadata.
const MaxExportBytes = 1_000_000

// deliver puts the export's files into the Secret the plan names: every file or none, so
// a partial export never reaches its reader. The files' values go from the export
// directory to the API server and nowhere else.
func (r *runner) deliver(ctx context.Context) {
	es := r.plan.Options.ExportSecret
	if es.Name == "" || es.Namespace == "" || es.OwnerUID == "" || es.OwnerKind == "" || es.OwnerName == "" {
		r.failf(plan.ErrInvalidPlan, "options.exportSecret needs a name, a namespace and its owner's apiVersion, kind, name and uid")
		return
	}
	files := r.exportedFiles(es)
	delivery := &plan.Delivery{Secret: es.Name}
	r.report.Delivery = delivery
	for _, f := range files {
		info, err := os.Stat(f.path)
		if err != nil {
			r.failf(plan.ErrInternal, "cannot read %s in the export directory", filepath.Base(f.path))
			return
		}
		delivery.Bytes += int64(len(f.key)) + info.Size() + int64(len(f.prefix)+len(f.suffix))
		delivery.Keys = append(delivery.Keys, f.key)
	}
	if delivery.Bytes > MaxExportBytes {
		delivery.Keys = nil
		r.failf(plan.ErrExportTooLarge, "the export is %d bytes, more than the %d a Secret can hold: nothing was delivered",
			delivery.Bytes, MaxExportBytes)
		return
	}
	secret, err := exportSecret(es, files)
	if err != nil {
		r.failf(plan.ErrInternal, "cannot read the export files: %v", err)
		return
	}
	defer func() {
		for _, b := range secret.Data {
			clear(b)
		}
	}()
	// The files' sizes bounded what was read; the Secret's data is the exact figure.
	delivery.Bytes = 0
	for k, v := range secret.Data {
		delivery.Bytes += int64(len(k) + len(v))
	}
	secrets, err := secretsClient(es.Namespace)
	if err != nil {
		r.failf(plan.ErrDeliveryFailed, "cannot reach the Kubernetes API to create Secret %s: %v", es.Name, err)
		return
	}
	_, err = secrets.Create(ctx, secret, metav1.CreateOptions{FieldManager: "lethe-worker"})
	switch {
	case apierrors.IsAlreadyExists(err):
		// A re-run of a plan that was delivered: the controller checks the Secret's owner.
		delivery.Existed = true
		r.logf("export Secret %s already exists", es.Name)
	case err != nil:
		// API errors name the resource and the verb, never the data sent.
		r.failf(plan.ErrDeliveryFailed, "cannot create Secret %s/%s: %v", es.Namespace, es.Name, err)
	default:
		r.logf("export delivered in Secret %s: %d keys, %d bytes", es.Name, len(delivery.Keys), delivery.Bytes)
	}
}

// exportFile is one file of the export and the Secret key it goes under; prefix and
// suffix wrap its content.
type exportFile struct {
	key, path      string
	prefix, suffix string
}

// exportedFiles lists export.json and, when csv is asked for, the CSV file of every
// table the report says was exported.
func (r *runner) exportedFiles(es *plan.ExportSecret) []exportFile {
	dir := r.plan.Options.ExportDir
	doc := exportFile{key: ExportFile, path: filepath.Join(dir, ExportFile)}
	if es.Source != "" {
		// {"databases": {source: document}}: the documents of a request's databases merge
		// into one by joining their "databases" objects.
		doc.prefix, doc.suffix = `{"databases":{`+jsonText(es.Source)+`:`, "}}\n"
	}
	files := []exportFile{doc}
	if !slices.Contains(es.Formats, plan.FormatCSV) {
		return files
	}
	prefix := ""
	if es.Source != "" {
		prefix = fileName(es.Source) + "."
	}
	seen := map[string]bool{}
	for _, res := range r.report.Results {
		name := fileName(res.Table) + ".csv"
		if res.Outcome != plan.OutcomeExported || seen[name] {
			continue
		}
		seen[name] = true
		files = append(files, exportFile{key: prefix + name, path: filepath.Join(dir, name)})
	}
	return files
}

// exportSecret reads the files into the Secret, owned by the request.
func exportSecret(es *plan.ExportSecret, files []exportFile) (*corev1.Secret, error) {
	data := make(map[string][]byte, len(files))
	for _, f := range files {
		b, err := os.ReadFile(f.path)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Base(f.path), err)
		}
		if f.prefix != "" || f.suffix != "" {
			b = slices.Concat([]byte(f.prefix), bytes.TrimRight(b, "\n"), []byte(f.suffix))
		}
		data[f.key] = b
	}
	controller := true
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name: es.Name, Namespace: es.Namespace, Labels: es.Labels,
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: es.OwnerAPIVersion, Kind: es.OwnerKind, Name: es.OwnerName,
				UID: types.UID(es.OwnerUID), Controller: &controller,
			}},
		},
		Type: corev1.SecretTypeOpaque,
		// What was exported stays as exported: the Secret can be read or deleted, not edited.
		Immutable: &controller,
		Data:      data,
	}, nil
}

// secretsClient is the Secrets of namespace, as coreClient reaches them.
func secretsClient(namespace string) (corev1client.SecretInterface, error) {
	cs, err := coreClient()
	if err != nil {
		return nil, err
	}
	return cs.Secrets(namespace), nil
}

// coreClient reaches the API server as the pod's ServiceAccount, or through $KUBECONFIG
// when set (the local job runner sets it).
func coreClient() (corev1client.CoreV1Interface, error) {
	var cfg *rest.Config
	var err error
	if path := os.Getenv("KUBECONFIG"); path != "" {
		cfg, err = clientcmd.BuildConfigFromFlags("", path)
	} else {
		cfg, err = rest.InClusterConfig()
	}
	if err != nil {
		return nil, err
	}
	cfg.UserAgent = "lethe-worker"
	cfg.Timeout = 30 * time.Second
	return corev1client.NewForConfig(cfg)
}
