package jobrunner

import (
	"fmt"
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// serviceAccountUser is the user name the API server gives a ServiceAccount's token.
func serviceAccountUser(namespace, name string) string {
	if name == "" {
		name = "default"
	}
	return fmt.Sprintf("system:serviceaccount:%s:%s", namespace, name)
}

// mountsToken says whether kubelet would mount the pod's ServiceAccount token.
func mountsToken(pod *corev1.Pod) bool {
	return pod.Spec.AutomountServiceAccountToken != nil && *pod.Spec.AutomountServiceAccountToken
}

// writePodKubeconfig stands in for the ServiceAccount token kubelet mounts: a kubeconfig
// in dir for the runner's API server that acts as the pod's ServiceAccount, so the
// process gets that account's RBAC. It returns the file's path.
func writePodKubeconfig(dir string, cfg *rest.Config, pod *corev1.Pod) (string, error) {
	path := filepath.Join(dir, "kubeconfig")
	return path, WriteKubeconfig(path, cfg, serviceAccountUser(pod.Namespace, pod.Spec.ServiceAccountName))
}

// WriteKubeconfig writes a kubeconfig for cfg's API server and credentials to path; with
// actAs set, the client impersonates that user (cfg's user must be allowed to).
func WriteKubeconfig(path string, cfg *rest.Config, actAs string) error {
	read := func(data []byte, file string) ([]byte, error) {
		if len(data) > 0 || file == "" {
			return data, nil
		}
		return os.ReadFile(file)
	}
	ca, err := read(cfg.CAData, cfg.CAFile)
	if err != nil {
		return err
	}
	cert, err := read(cfg.CertData, cfg.CertFile)
	if err != nil {
		return err
	}
	key, err := read(cfg.KeyData, cfg.KeyFile)
	if err != nil {
		return err
	}
	kc := clientcmdapi.NewConfig()
	kc.Clusters["api"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: ca,
		InsecureSkipTLSVerify: cfg.Insecure, TLSServerName: cfg.ServerName}
	kc.AuthInfos["user"] = &clientcmdapi.AuthInfo{ClientCertificateData: cert, ClientKeyData: key,
		Token: cfg.BearerToken, TokenFile: cfg.BearerTokenFile, Username: cfg.Username, Password: cfg.Password,
		Impersonate: actAs}
	kc.Contexts["pod"] = &clientcmdapi.Context{Cluster: "api", AuthInfo: "user"}
	kc.CurrentContext = "pod"
	return clientcmd.WriteToFile(*kc, path)
}
