package jobrunner

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/lethe-operator/lethe/internal/testenv"
)

// The test binary doubles as the container's program when LETHE_FAKE_WORKER is set: it
// reads the files the Job mounts and reports them in its termination message.
func TestMain(m *testing.M) {
	if os.Getenv("LETHE_FAKE_WORKER") == "1" {
		os.Exit(fakeWorker())
	}
	os.Exit(m.Run())
}

// fakeWorker reads --plan (whose content names the credentials file), writes what it
// read to --termination-log, records its PID in $PID_FILE and exits with plan's "exit".
func fakeWorker() int {
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	planPath := fs.String("plan", "", "")
	termLog := fs.String("termination-log", "", "")
	_ = fs.Parse(os.Args[2:]) // os.Args[1] is "worker"
	if pidFile := os.Getenv("PID_FILE"); pidFile != "" {
		_ = os.WriteFile(pidFile, []byte(strconv.Itoa(os.Getpid())), 0o600)
	}
	var p struct {
		PasswordFile string `json:"passwordFile"`
		Exit         int    `json:"exit"`
		SleepSeconds int    `json:"sleepSeconds"`
	}
	raw, err := os.ReadFile(*planPath)
	if err != nil || json.Unmarshal(raw, &p) != nil {
		fmt.Fprintln(os.Stderr, "no plan:", err)
		return 3
	}
	time.Sleep(time.Duration(p.SleepSeconds) * time.Second)
	password, _ := os.ReadFile(p.PasswordFile)
	report := map[string]string{"password": string(password), "greeting": os.Getenv("GREETING")}
	if kubeconfig := os.Getenv("KUBECONFIG"); kubeconfig != "" {
		report["user"] = whoAmI(kubeconfig)
	}
	msg, _ := json.Marshal(report)
	_ = os.WriteFile(*termLog, msg, 0o600)
	return p.Exit
}

func startRunner(t *testing.T) (*testenv.Env, context.CancelFunc) {
	env := testenv.Start(t)
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{Scheme: env.Scheme, Metrics: metricsserver.Options{BindAddress: "0"},
		Controller: config.Controller{SkipNameValidation: ptr.To(true)}})
	if err != nil {
		t.Fatal(err)
	}
	exe, _ := os.Executable()
	if err := (&Runner{Client: mgr.GetClient(), Binary: exe, LabelKey: "app.kubernetes.io/managed-by", LabelValue: "lethe"}).SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { _ = mgr.Start(ctx) }()
	t.Cleanup(cancel)
	return env, cancel
}

// fakeJob creates a Job like Lethe's: plan ConfigMap and Secret mounted, env set.
func fakeJob(t *testing.T, c client.Client, name, planJSON string, backoff int32, deadline int64) *batchv1.Job {
	t.Helper()
	return fakeJobWith(t, c, name, planJSON, backoff, deadline, nil)
}

// fakeJobWith is fakeJob with a change to the Job before it is created.
func fakeJobWith(t *testing.T, c client.Client, name, planJSON string, backoff int32, deadline int64, edit func(*batchv1.Job)) *batchv1.Job {
	t.Helper()
	ctx := context.Background()
	must(t, c.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Data: map[string]string{"plan.json": planJSON}}))
	must(t, c.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name + "-db", Namespace: "default"},
		Data: map[string][]byte{"pw": []byte("s3cret")}}))
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{"app.kubernetes.io/managed-by": "lethe"}},
		Spec: batchv1.JobSpec{
			BackoffLimit: ptr.To(backoff), ActiveDeadlineSeconds: ptr.To(deadline),
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Volumes: []corev1.Volume{
					{Name: "plan", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: name}}}},
					{Name: "db", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: name + "-db",
						Items: []corev1.KeyToPath{{Key: "pw", Path: "password"}}}}},
				},
				Containers: []corev1.Container{{
					Name: "worker", Image: "lethe:test", Command: []string{"/lethe"},
					Args: []string{"worker", "--plan", "/etc/lethe/plan/plan.json", "--termination-log", "/dev/termination-log"},
					Env: []corev1.EnvVar{{Name: "LETHE_FAKE_WORKER", Value: "1"}, {Name: "GREETING", Value: "hello"},
						{Name: "PID_FILE", Value: os.Getenv("PID_FILE_" + name)}},
					VolumeMounts:           []corev1.VolumeMount{{Name: "plan", MountPath: "/etc/lethe/plan"}, {Name: "db", MountPath: "/var/run/lethe/db"}},
					TerminationMessagePath: "/dev/termination-log",
				}},
			}},
		},
	}
	if edit != nil {
		edit(job)
	}
	must(t, c.Create(ctx, job))
	return job
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func liveCondition(g Gomega, c client.Client, job *batchv1.Job, typ batchv1.JobConditionType) *batchv1.JobCondition {
	live := &batchv1.Job{}
	g.Expect(c.Get(context.Background(), client.ObjectKeyFromObject(job), live)).To(Succeed())
	for _, cond := range live.Status.Conditions {
		if cond.Type == typ && cond.Status == corev1.ConditionTrue {
			return &cond
		}
	}
	return nil
}

func podsOf(g Gomega, c client.Client, job *batchv1.Job) []corev1.Pod {
	pods := &corev1.PodList{}
	g.Expect(c.List(context.Background(), pods, client.InNamespace("default"),
		client.MatchingLabels{batchv1.JobNameLabel: job.Name})).To(Succeed())
	return pods.Items
}

func TestRunsTheContainerWithItsMountsAndReportsTheTerminationMessage(t *testing.T) {
	g := NewWithT(t)
	env, _ := startRunner(t)
	job := fakeJob(t, env.Client, "complete", `{"passwordFile": "/var/run/lethe/db/password", "exit": 0}`, 0, 60)

	g.Eventually(func(g Gomega) { g.Expect(liveCondition(g, env.Client, job, batchv1.JobComplete)).NotTo(BeNil()) }, 30*time.Second).Should(Succeed())
	pods := podsOf(g, env.Client, job)
	g.Expect(pods).To(HaveLen(1))
	g.Expect(pods[0].Status.Phase).To(Equal(corev1.PodSucceeded))
	term := pods[0].Status.ContainerStatuses[0].State.Terminated
	g.Expect(term).NotTo(BeNil())
	g.Expect(term.ExitCode).To(BeZero())
	g.Expect(term.Message).To(MatchJSON(`{"password": "s3cret", "greeting": "hello"}`))
}

func TestFailsTheJobAfterTheBackoffLimit(t *testing.T) {
	g := NewWithT(t)
	env, _ := startRunner(t)
	job := fakeJob(t, env.Client, "failing", `{"passwordFile": "/var/run/lethe/db/password", "exit": 4}`, 1, 60)

	g.Eventually(func(g Gomega) {
		cond := liveCondition(g, env.Client, job, batchv1.JobFailed)
		g.Expect(cond).NotTo(BeNil())
		g.Expect(cond.Reason).To(Equal("BackoffLimitExceeded"))
	}, 30*time.Second).Should(Succeed())
	pods := podsOf(g, env.Client, job)
	g.Expect(pods).To(HaveLen(2), "one try and one retry")
	for _, p := range pods {
		g.Expect(p.Status.ContainerStatuses).To(HaveLen(1), "%+v", p.Status)
		g.Expect(p.Status.ContainerStatuses[0].State.Terminated.ExitCode).To(BeEquivalentTo(4))
	}
}

func TestFailsTheJobPastItsDeadline(t *testing.T) {
	g := NewWithT(t)
	env, _ := startRunner(t)
	job := fakeJob(t, env.Client, "slow", `{"passwordFile": "/var/run/lethe/db/password", "sleepSeconds": 60}`, 0, 1)

	g.Eventually(func(g Gomega) {
		cond := liveCondition(g, env.Client, job, batchv1.JobFailed)
		g.Expect(cond).NotTo(BeNil())
		g.Expect(cond.Reason).To(Equal("DeadlineExceeded"))
	}, 30*time.Second).Should(Succeed())
}

func TestKillsTheProcessWhenTheJobIsDeleted(t *testing.T) {
	g := NewWithT(t)
	pidFile := t.TempDir() + "/pid"
	t.Setenv("PID_FILE_deleted", pidFile)
	env, _ := startRunner(t)
	job := fakeJob(t, env.Client, "deleted", `{"passwordFile": "/var/run/lethe/db/password", "sleepSeconds": 60}`, 0, 120)

	var pid int
	g.Eventually(func(g Gomega) {
		b, err := os.ReadFile(pidFile)
		g.Expect(err).NotTo(HaveOccurred())
		pid, _ = strconv.Atoi(string(b))
		g.Expect(pid).To(BeNumerically(">", 0))
	}, 30*time.Second).Should(Succeed())
	g.Expect(env.Client.Delete(context.Background(), job)).To(Succeed())
	g.Eventually(func() error { return syscall.Kill(pid, 0) }, 30*time.Second).Should(HaveOccurred(), "the process is gone")
}
