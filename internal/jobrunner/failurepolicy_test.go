package jobrunner

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// lethePolicy is the pod failure policy of Lethe's worker Jobs: exit code 3 (a fixed
// outcome) fails the Job, a disrupted pod is not counted.
func lethePolicy(job *batchv1.Job) {
	job.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{
		{Action: batchv1.PodFailurePolicyActionFailJob, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{
			ContainerName: ptr.To("worker"), Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{3}}},
		{Action: batchv1.PodFailurePolicyActionIgnore, OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{
			{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue}}},
	}}
}

func TestAFixedOutcomeFailsTheJobAtOnce(t *testing.T) {
	g := NewWithT(t)
	env, _ := startRunner(t)
	job := fakeJobWith(t, env.Client, "fixed", `{"passwordFile": "/var/run/lethe/db/password", "exit": 3}`, 2, 60, lethePolicy)

	g.Eventually(func(g Gomega) {
		cond := liveCondition(g, env.Client, job, batchv1.JobFailed)
		g.Expect(cond).NotTo(BeNil())
		g.Expect(cond.Reason).To(Equal(batchv1.JobReasonPodFailurePolicy))
		g.Expect(cond.Message).To(MatchRegexp(`^Container worker for pod default/fixed-\w+ failed with exit code 3 matching FailJob rule at index 0$`))
	}, 30*time.Second).Should(Succeed())
	g.Consistently(func(g Gomega) { g.Expect(podsOf(g, env.Client, job)).To(HaveLen(1), "no retry of a fixed outcome") }, 2*time.Second).Should(Succeed())
}

func TestATransientFailureIsRetriedUpToTheBackoffLimit(t *testing.T) {
	g := NewWithT(t)
	env, _ := startRunner(t)
	job := fakeJobWith(t, env.Client, "transient", `{"passwordFile": "/var/run/lethe/db/password", "exit": 1}`, 2, 60, lethePolicy)

	g.Eventually(func(g Gomega) {
		cond := liveCondition(g, env.Client, job, batchv1.JobFailed)
		g.Expect(cond).NotTo(BeNil())
		g.Expect(cond.Reason).To(Equal("BackoffLimitExceeded"))
	}, 30*time.Second).Should(Succeed())
	g.Expect(podsOf(g, env.Client, job)).To(HaveLen(3), "one try and two retries")
}

// TestADisruptedPodIsNotCounted marks the first pod as disrupted (as an eviction does)
// while it runs: with a backoff limit of 0 the Job still gets a second pod.
func TestADisruptedPodIsNotCounted(t *testing.T) {
	g := NewWithT(t)
	env, _ := startRunner(t)
	job := fakeJobWith(t, env.Client, "disrupted", `{"passwordFile": "/var/run/lethe/db/password", "exit": 1, "sleepSeconds": 2}`, 0, 60, lethePolicy)

	var first corev1.Pod
	g.Eventually(func(g Gomega) {
		pods := podsOf(g, env.Client, job)
		g.Expect(pods).To(HaveLen(1))
		first = pods[0]
		g.Expect(first.Status.Phase).To(Equal(corev1.PodRunning))
	}, 30*time.Second).Should(Succeed())
	g.Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
		pod := &corev1.Pod{}
		if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(&first), pod); err != nil {
			return err
		}
		pod.Status.Conditions = append(pod.Status.Conditions, corev1.PodCondition{
			Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue, Reason: "EvictionByEvictionAPI", LastTransitionTime: metav1.Now()})
		return env.Client.Status().Update(context.Background(), pod)
	})).To(Succeed())

	g.Eventually(func(g Gomega) {
		cond := liveCondition(g, env.Client, job, batchv1.JobFailed)
		g.Expect(cond).NotTo(BeNil())
		g.Expect(cond.Reason).To(Equal("BackoffLimitExceeded"))
	}, 30*time.Second).Should(Succeed())
	g.Expect(podsOf(g, env.Client, job)).To(HaveLen(2), "the disrupted pod is replaced without counting")
	live := &batchv1.Job{}
	g.Expect(env.Client.Get(context.Background(), client.ObjectKeyFromObject(job), live)).To(Succeed())
	g.Expect(live.Status.Failed).To(BeEquivalentTo(1))
}
