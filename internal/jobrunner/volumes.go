package jobrunner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// materialise writes the pod's volumes into dir, as kubelet mounts them, and returns the
// mapping from paths inside the container to paths on this machine. The mapping is
// applied to the command's arguments, its environment and the mounted ConfigMaps (the
// plan names the files it reads by their in-container paths).
func (r *run) materialise(ctx context.Context, dir string, pod *corev1.Pod) (*strings.Replacer, error) {
	c := pod.Spec.Containers[0]
	var pairs [][2]string
	hostPath := map[string]string{}
	for _, m := range c.VolumeMounts {
		host := filepath.Join(dir, "volumes", m.Name)
		hostPath[m.Name] = host
		pairs = append(pairs, [2]string{strings.TrimRight(m.MountPath, "/"), host})
	}
	if c.TerminationMessagePath != "" {
		pairs = append(pairs, [2]string{c.TerminationMessagePath, filepath.Join(dir, "termination-log")})
	}
	sortByLengthDesc(pairs)
	var oldnew []string
	for _, p := range pairs {
		oldnew = append(oldnew, p[0], p[1])
	}
	paths := strings.NewReplacer(oldnew...)

	for _, v := range pod.Spec.Volumes {
		host, mounted := hostPath[v.Name]
		if !mounted {
			continue
		}
		files, err := r.volumeFiles(ctx, pod.Namespace, v)
		if err != nil {
			return nil, fmt.Errorf("volume %s: %w", v.Name, err)
		}
		if err := writeFiles(host, files, v.ConfigMap != nil, paths); err != nil {
			return nil, err
		}
	}
	return paths, nil
}

// volumeFiles returns a volume's files by relative path.
func (r *run) volumeFiles(ctx context.Context, namespace string, v corev1.Volume) (map[string][]byte, error) {
	switch {
	case v.EmptyDir != nil:
		return map[string][]byte{}, nil
	case v.ConfigMap != nil:
		data, err := r.configMapData(ctx, v.ConfigMap.Name)
		return project(data, v.ConfigMap.Items), err
	case v.Secret != nil:
		data, err := r.secretData(ctx, v.Secret.SecretName)
		return project(data, v.Secret.Items), err
	case v.Projected != nil:
		files := map[string][]byte{}
		for _, src := range v.Projected.Sources {
			if src.Secret == nil {
				return nil, fmt.Errorf("only Secret sources of projected volumes are supported")
			}
			data, err := r.secretData(ctx, src.Secret.Name)
			if err != nil {
				return nil, err
			}
			for k, b := range project(data, src.Secret.Items) {
				files[k] = b
			}
		}
		return files, nil
	}
	return nil, fmt.Errorf("unsupported volume type")
}

// project picks the listed keys (all keys when none are listed), as kubelet does.
func project(data map[string][]byte, items []corev1.KeyToPath) map[string][]byte {
	files := map[string][]byte{}
	if len(items) == 0 {
		for k, b := range data {
			files[k] = b
		}
		return files
	}
	for _, it := range items {
		if b, ok := data[it.Key]; ok {
			files[it.Path] = b
		}
	}
	return files
}

func writeFiles(dir string, files map[string][]byte, rewrite bool, paths *strings.Replacer) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for name, b := range files {
		if rewrite {
			b = []byte(paths.Replace(string(b)))
		}
		p := filepath.Join(dir, filepath.Clean("/"+name))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(p, b, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// secretData and configMapData wait for the object to exist, as kubelet keeps a pod in
// ContainerCreating until its volumes can be mounted; the Job's deadline ends the wait.
func (r *run) secretData(ctx context.Context, name string) (map[string][]byte, error) {
	s := &corev1.Secret{}
	if err := r.waitFor(ctx, name, s); err != nil {
		return nil, err
	}
	data := map[string][]byte{}
	for k, v := range s.Data {
		data[k] = v
	}
	for k, v := range s.StringData {
		data[k] = []byte(v)
	}
	return data, nil
}

func (r *run) configMapData(ctx context.Context, name string) (map[string][]byte, error) {
	cm := &corev1.ConfigMap{}
	if err := r.waitFor(ctx, name, cm); err != nil {
		return nil, err
	}
	data := map[string][]byte{}
	for k, v := range cm.Data {
		data[k] = []byte(v)
	}
	for k, v := range cm.BinaryData {
		data[k] = v
	}
	return data, nil
}

func (r *run) waitFor(ctx context.Context, name string, obj client.Object) error {
	key := types.NamespacedName{Namespace: r.job.Namespace, Name: name}
	for {
		err := r.client.Get(ctx, key, obj)
		if err == nil || !apierrors.IsNotFound(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not found: %w", name, ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}
