package jobrunner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// maxTerminationMessage is kubelet's limit on a termination message.
const maxTerminationMessage = 4096

// run plays kubelet and the Job controller for one Job.
type run struct {
	client client.Client
	binary string
	job    *batchv1.Job
	// config reaches the API server, for pods that mount their ServiceAccount token.
	config *rest.Config
	// output, when set, also receives the container's stdout and stderr.
	output io.Writer
}

// outcome of one pod.
type outcome struct {
	exitCode int
	err      error // the pod could not run at all
	// pod is the Pod object, once created.
	pod *corev1.Pod
}

func (r *run) execute(ctx context.Context) {
	log := ctrl.Log.WithName("jobrunner").WithValues("job", r.job.Namespace+"/"+r.job.Name)
	if d := r.job.Spec.ActiveDeadlineSeconds; d != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(*d)*time.Second)
		defer cancel()
	}
	if err := r.updateJob(ctx, func(s *batchv1.JobStatus) {
		if s.StartTime == nil {
			s.StartTime = ptrTime(metav1.Now())
		}
		s.Active = 1
	}); err != nil {
		log.Error(err, "marking the Job started")
		return
	}
	completions, backoffLimit := 1, 6
	if c := r.job.Spec.Completions; c != nil {
		completions = int(*c)
	}
	if b := r.job.Spec.BackoffLimit; b != nil {
		backoffLimit = int(*b)
	}
	failures := 0
	for index := 0; index < completions; {
		res := r.runPod(ctx, index)
		switch {
		case errors.Is(ctx.Err(), context.DeadlineExceeded):
			r.finish(context.WithoutCancel(ctx), index, failures+1, "DeadlineExceeded", "Job was active longer than specified deadline")
			return
		case ctx.Err() != nil:
			return // the Job was deleted or the manager is stopping
		case res.err != nil:
			log.Error(res.err, "running the pod")
		case res.exitCode == 0:
			index++
			continue
		}
		switch action, message := r.failurePolicy(ctx, res); action {
		case batchv1.PodFailurePolicyActionFailJob:
			r.finish(ctx, index, failures+1, batchv1.JobReasonPodFailurePolicy, message)
			return
		case batchv1.PodFailurePolicyActionIgnore:
			continue // not counted: the pod is replaced, as after an eviction
		}
		failures++
		if failures > backoffLimit {
			r.finish(ctx, index, failures, "BackoffLimitExceeded", "Job has reached the specified backoff limit")
			return
		}
	}
	r.finish(ctx, completions, failures, "", "")
}

// failurePolicy applies the Job's pod failure policy to a pod that ran and failed, with
// the Pod as the API server has it now (another party may have added conditions).
func (r *run) failurePolicy(ctx context.Context, res outcome) (batchv1.PodFailurePolicyAction, string) {
	if res.pod == nil || res.exitCode == 0 {
		return batchv1.PodFailurePolicyActionCount, ""
	}
	live := res.pod.DeepCopy()
	if err := r.client.Get(ctx, client.ObjectKeyFromObject(res.pod), live); err != nil {
		live = res.pod
	}
	return failureAction(r.job, live, res.pod.Spec.Containers[0].Name, int32(res.exitCode))
}

// finish marks the Job Complete (reason empty) or Failed, as the Job controller does. The
// write is not cancelled with the run: seeing the Job finished stops the run, which must not
// cut short the very write that finished it.
func (r *run) finish(ctx context.Context, succeeded, failed int, reason, message string) {
	ctx = context.WithoutCancel(ctx)
	now := metav1.Now()
	err := r.updateJob(ctx, func(s *batchv1.JobStatus) {
		s.Active = 0
		s.Succeeded = int32(succeeded)
		s.Failed = int32(failed)
		if reason == "" {
			s.CompletionTime = &now
			s.Conditions = append(s.Conditions,
				jobCondition(batchv1.JobSuccessCriteriaMet, "CompletionsReached", "Reached expected number of succeeded pods", now),
				jobCondition(batchv1.JobComplete, "CompletionsReached", "Reached expected number of succeeded pods", now))
			return
		}
		s.Conditions = append(s.Conditions,
			jobCondition(batchv1.JobFailureTarget, reason, message, now),
			jobCondition(batchv1.JobFailed, reason, message, now))
	})
	if err != nil && !apierrors.IsNotFound(err) {
		ctrl.Log.WithName("jobrunner").Error(err, "marking the Job finished", "job", r.job.Name)
	}
}

func jobCondition(t batchv1.JobConditionType, reason, message string, now metav1.Time) batchv1.JobCondition {
	return batchv1.JobCondition{Type: t, Status: corev1.ConditionTrue, Reason: reason, Message: message,
		LastProbeTime: now, LastTransitionTime: now}
}

func (r *run) updateJob(ctx context.Context, change func(*batchv1.JobStatus)) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		job := &batchv1.Job{}
		if err := r.client.Get(ctx, client.ObjectKeyFromObject(r.job), job); err != nil {
			return err
		}
		if job.UID != r.job.UID {
			return apierrors.NewNotFound(batchv1.Resource("jobs"), job.Name)
		}
		change(&job.Status)
		return r.client.Status().Update(ctx, job)
	})
}

// runPod creates a Pod for the Job, runs its container as a local process and writes
// the Pod's terminated state with the termination message.
func (r *run) runPod(ctx context.Context, index int) outcome {
	dir, err := os.MkdirTemp("", "lethe-pod-")
	if err != nil {
		return outcome{err: err}
	}
	defer os.RemoveAll(dir)

	pod, err := r.createPod(ctx, index)
	if err != nil {
		return outcome{err: err}
	}
	container := pod.Spec.Containers[0]
	paths, err := r.materialise(ctx, dir, pod)
	if err != nil {
		return outcome{err: err, pod: pod}
	}
	started := metav1.Now()
	if err := r.setPodStatus(ctx, pod, corev1.PodRunning, corev1.ContainerState{
		Running: &corev1.ContainerStateRunning{StartedAt: started}}); err != nil {
		return outcome{err: err, pod: pod}
	}
	var extraEnv []string
	if mountsToken(pod) && r.config != nil {
		kubeconfig, err := writePodKubeconfig(dir, r.config, pod)
		if err != nil {
			return outcome{err: err, pod: pod}
		}
		extraEnv = append(extraEnv, "KUBECONFIG="+kubeconfig)
	}
	exitCode, logs := r.exec(ctx, container, paths, pod, index, extraEnv)
	message := readTerminationMessage(paths.Replace(container.TerminationMessagePath))
	if message == "" && exitCode != 0 && container.TerminationMessagePolicy == corev1.TerminationMessageFallbackToLogsOnError {
		message = lastBytes(logs, 2048)
	}
	phase, reason := corev1.PodSucceeded, "Completed"
	if exitCode != 0 {
		phase, reason = corev1.PodFailed, "Error"
	}
	if ctx.Err() != nil {
		return outcome{exitCode: exitCode, pod: pod}
	}
	err = r.setPodStatus(ctx, pod, phase, corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
		ExitCode: int32(exitCode), Reason: reason, Message: message, StartedAt: started, FinishedAt: metav1.Now(),
	}})
	return outcome{exitCode: exitCode, err: err, pod: pod}
}

func (r *run) createPod(ctx context.Context, index int) (*corev1.Pod, error) {
	tmpl := r.job.Spec.Template
	labels := map[string]string{}
	for k, v := range tmpl.Labels {
		labels[k] = v
	}
	annotations := map[string]string{}
	if r.job.Spec.CompletionMode != nil && *r.job.Spec.CompletionMode == batchv1.IndexedCompletion {
		annotations[batchv1.JobCompletionIndexAnnotation] = strconv.Itoa(index)
		labels[batchv1.JobCompletionIndexAnnotation] = strconv.Itoa(index)
	}
	controller := true
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: r.job.Name + "-", Namespace: r.job.Namespace, Labels: labels, Annotations: annotations,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "batch/v1", Kind: "Job", Name: r.job.Name,
				UID: r.job.UID, Controller: &controller, BlockOwnerDeletion: &controller}},
		},
		Spec: *tmpl.Spec.DeepCopy(),
	}
	pod.Spec.NodeName = "lethe-local-job-runner"
	if err := r.client.Create(ctx, pod); err != nil {
		return nil, fmt.Errorf("creating the Pod: %w", err)
	}
	return pod, nil
}

func (r *run) setPodStatus(ctx context.Context, pod *corev1.Pod, phase corev1.PodPhase, state corev1.ContainerState) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		live := &corev1.Pod{}
		if err := r.client.Get(ctx, client.ObjectKeyFromObject(pod), live); err != nil {
			return err
		}
		c := live.Spec.Containers[0]
		if live.Status.StartTime == nil {
			live.Status.StartTime = ptrTime(metav1.Now())
		}
		live.Status.Phase = phase
		live.Status.ContainerStatuses = []corev1.ContainerStatus{{
			Name: c.Name, Image: c.Image, ImageID: c.Image, State: state,
			Ready: phase == corev1.PodRunning, Started: ptrBool(phase == corev1.PodRunning),
		}}
		return r.client.Status().Update(ctx, live)
	})
}

// exec runs the container's command with the Job's binary as its entrypoint.
func (r *run) exec(ctx context.Context, c corev1.Container, paths *strings.Replacer, pod *corev1.Pod, index int, extraEnv []string) (int, []byte) {
	args := append([]string{}, c.Command[1:]...)
	args = append(args, c.Args...)
	for i := range args {
		args[i] = paths.Replace(args[i])
	}
	cmd := exec.CommandContext(ctx, r.binary, args...)
	env, err := r.env(ctx, c, pod, paths, index)
	if err != nil {
		return 1, []byte(err.Error())
	}
	cmd.Env = append(env, extraEnv...)
	var logs bytes.Buffer
	var out io.Writer = &logs
	if r.output != nil {
		out = io.MultiWriter(&logs, r.output)
	}
	cmd.Stdout, cmd.Stderr = out, out
	err = cmd.Run()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return 0, logs.Bytes()
	case errors.As(err, &exitErr) && exitErr.ExitCode() >= 0:
		return exitErr.ExitCode(), logs.Bytes()
	default:
		return 137, append(logs.Bytes(), []byte(err.Error())...)
	}
}

// env is the container's environment: literal values, Secret and ConfigMap keys, and
// the pod fields the worker may ask for.
func (r *run) env(ctx context.Context, c corev1.Container, pod *corev1.Pod, paths *strings.Replacer, index int) ([]string, error) {
	env := []string{"HOME=" + paths.Replace("/tmp"), "PATH=" + os.Getenv("PATH")}
	if pod.Annotations[batchv1.JobCompletionIndexAnnotation] != "" {
		env = append(env, "JOB_COMPLETION_INDEX="+strconv.Itoa(index))
	}
	for _, e := range c.Env {
		v, err := r.envValue(ctx, e, pod)
		if err != nil {
			return nil, err
		}
		env = append(env, e.Name+"="+paths.Replace(v))
	}
	return env, nil
}

func (r *run) envValue(ctx context.Context, e corev1.EnvVar, pod *corev1.Pod) (string, error) {
	switch {
	case e.ValueFrom == nil:
		return e.Value, nil
	case e.ValueFrom.SecretKeyRef != nil:
		data, err := r.secretData(ctx, e.ValueFrom.SecretKeyRef.Name)
		return string(data[e.ValueFrom.SecretKeyRef.Key]), err
	case e.ValueFrom.ConfigMapKeyRef != nil:
		data, err := r.configMapData(ctx, e.ValueFrom.ConfigMapKeyRef.Name)
		return string(data[e.ValueFrom.ConfigMapKeyRef.Key]), err
	case e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.namespace":
		return pod.Namespace, nil
	case e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.name":
		return pod.Name, nil
	}
	return "", fmt.Errorf("env %s: unsupported source", e.Name)
}

func readTerminationMessage(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	if len(b) > maxTerminationMessage {
		b = b[:maxTerminationMessage]
	}
	return string(b)
}

// lastBytes is the tail of the logs, for a termination message that falls back to them.
func lastBytes(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

func ptrTime(t metav1.Time) *metav1.Time { return &t }
func ptrBool(b bool) *bool               { return &b }

// sortByLengthDesc orders mount paths so the longest match wins in a single-pass replace.
func sortByLengthDesc(pairs [][2]string) {
	sort.Slice(pairs, func(i, j int) bool { return len(pairs[i][0]) > len(pairs[j][0]) })
}
