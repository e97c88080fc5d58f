package jobrunner

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	authenticationv1 "k8s.io/api/authentication/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"
)

// whoAmI asks the API server, through the kubeconfig, who the process is.
func whoAmI(kubeconfig string) string {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return "error: " + err.Error()
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return "error: " + err.Error()
	}
	review, err := cs.AuthenticationV1().SelfSubjectReviews().Create(context.Background(), &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		return "error: " + err.Error()
	}
	return review.Status.UserInfo.Username
}

// A pod that mounts its ServiceAccount token (an export Job, which delivers its Secret)
// gets a kubeconfig acting as that ServiceAccount; others get none (the fake worker then
// reports no user: see TestRunsTheContainerWithItsMountsAndReportsTheTerminationMessage).
func TestDeliveryPodsGetAKubeconfigActingAsTheirServiceAccount(t *testing.T) {
	g := NewWithT(t)
	env, _ := startRunner(t)
	ctx := context.Background()
	const name = "token"
	must(t, env.Client.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Data: map[string]string{"plan.json": `{"exit": 0}`}}))
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{"app.kubernetes.io/managed-by": "lethe"}},
		Spec: batchv1.JobSpec{
			BackoffLimit: ptr.To[int32](0), ActiveDeadlineSeconds: ptr.To[int64](60),
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy:                corev1.RestartPolicyNever,
				ServiceAccountName:           "lethe-exporter",
				AutomountServiceAccountToken: ptr.To(true),
				Volumes: []corev1.Volume{{Name: "plan", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
					LocalObjectReference: corev1.LocalObjectReference{Name: name}}}}},
				Containers: []corev1.Container{{
					Name: "worker", Image: "lethe:test", Command: []string{"/lethe"},
					Args:                   []string{"worker", "--plan", "/etc/lethe/plan/plan.json", "--termination-log", "/dev/termination-log"},
					Env:                    []corev1.EnvVar{{Name: "LETHE_FAKE_WORKER", Value: "1"}},
					VolumeMounts:           []corev1.VolumeMount{{Name: "plan", MountPath: "/etc/lethe/plan"}},
					TerminationMessagePath: "/dev/termination-log",
				}},
			}},
		},
	}
	must(t, env.Client.Create(ctx, job))

	g.Eventually(func(g Gomega) { g.Expect(liveCondition(g, env.Client, job, batchv1.JobComplete)).NotTo(BeNil()) }, 30*time.Second).Should(Succeed())
	pods := podsOf(g, env.Client, job)
	g.Expect(pods).To(HaveLen(1))
	term := pods[0].Status.ContainerStatuses[0].State.Terminated
	g.Expect(term).NotTo(BeNil())
	g.Expect(term.Message).To(MatchJSON(`{"password": "", "greeting": "", "user": "system:serviceaccount:default:lethe-exporter"}`))
}
