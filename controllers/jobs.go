package controllers

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	privacyv1alpha1 "github.com/lethe-operator/lethe/api/v1alpha1"
	"github.com/lethe-operator/lethe/internal/plan"
)

// Labels and annotations on the Jobs, ConfigMaps and Pods Lethe creates.
const (
	LabelManagedBy     = "app.kubernetes.io/managed-by"
	ManagedByLethe     = "lethe"
	LabelComponent     = "app.kubernetes.io/component"
	LabelOwnerKind     = "privacy.lethe.dev/owner-kind"
	LabelOwnerName     = "privacy.lethe.dev/owner-name"
	LabelPlanKind      = "privacy.lethe.dev/plan-kind"
	LabelDatabase      = "privacy.lethe.dev/database"
	AnnotationPlanHash = "privacy.lethe.dev/plan-hash"
)

// Where the worker pod finds its inputs.
const (
	planDir         = "/etc/lethe/plan"
	planFile        = planDir + "/" + planKey
	credentialsDir  = "/var/run/lethe/db"
	caDir           = "/var/run/lethe/tls"
	hashKeyDir      = "/var/run/lethe/hash"
	subjectsDir     = "/var/run/lethe/subjects"
	scratchDir      = "/tmp"
	terminationLog  = "/dev/termination-log"
	workerContainer = "worker"
)

// JobSettings are the operator-wide settings of every worker Job (manager flags, Helm values).
type JobSettings struct {
	Image              string
	ImagePullPolicy    corev1.PullPolicy
	ServiceAccountName string
	// ExportServiceAccountName is the identity of export Jobs: they alone mount a token,
	// to create the Secret the export is delivered in (RBAC: create on secrets).
	ExportServiceAccountName string
	TTLSecondsAfterFinished  int32
	ActiveDeadlineSeconds    int64
	BackoffLimit             int32
	Resources                corev1.ResourceRequirements
	// DraftServiceAccountName is the identity of DataMap draft Jobs: they too mount a
	// token, to create the ConfigMap the draft is published in (RBAC: create on configmaps).
	DraftServiceAccountName string
	// AllowLinkLocalHosts lets workers connect to database hosts that resolve to
	// link-local or cloud metadata addresses (refused by default).
	AllowLinkLocalHosts bool
}

// DefaultJobSettings are the settings used when no flag overrides them.
func DefaultJobSettings() JobSettings {
	return JobSettings{
		Image:                    "ghcr.io/lethe-operator/lethe:latest",
		ImagePullPolicy:          corev1.PullIfNotPresent,
		ServiceAccountName:       "lethe-worker",
		ExportServiceAccountName: "lethe-exporter",
		DraftServiceAccountName:  "lethe-drafter",
		TTLSecondsAfterFinished:  86400,
		ActiveDeadlineSeconds:    3600,
		BackoffLimit:             2,
		Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{
				corev1.ResourceCPU:    resource.MustParse("100m"),
				corev1.ResourceMemory: resource.MustParse("64Mi"),
			},
			Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")},
		},
	}
}

// SubjectSecret is where one subject's identifier is: a Secret key, never the value.
type SubjectSecret struct {
	ID        string
	Type      string
	Action    string
	SecretRef privacyv1alpha1.SecretKeyRef
}

// WorkerJob is one unit of work to run as a Job: a plan against one TenantDatabase on
// behalf of an owner (the custom resource whose status reports the outcome).
type WorkerJob struct {
	Owner     metav1.Object
	OwnerKind string
	// Key distinguishes runs of the same plan (a scheduled time, a trigger); the Job's
	// name is derived from the owner, the plan's hash and the key.
	Key      string
	Plan     plan.Plan
	Database *privacyv1alpha1.TenantDatabase
	HashKey  *privacyv1alpha1.SecretKeyRef
	Subjects []SubjectSecret
}

// PlanHash is a short, stable digest of a plan's content, its reference time excluded:
// the same work hashes the same whenever it is planned.
func PlanHash(p plan.Plan) string {
	p.Now = time.Time{}
	b, _ := json.Marshal(p)
	return shortHash(string(b))
}

func shortHash(parts ...string) string {
	h := sha256.New()
	for _, part := range parts {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:10]
}

// JobName is the deterministic name of the Job running plan kind for owner with the
// given key, so a duplicate event or a restart finds the Job that already exists.
func JobName(owner string, kind plan.Kind, key string) string {
	suffix := "-" + string(kind) + "-" + shortHash(owner, key)
	// Job names become pod labels: at most 63 characters.
	if max := 63 - len(suffix); len(owner) > max {
		owner = strings.TrimRight(owner[:max], "-.")
	}
	return owner + suffix
}

// labelValue shortens a value to fit a label (63 characters), keeping it unique.
func labelValue(v string) string {
	if len(v) <= 63 {
		return v
	}
	return strings.TrimRight(v[:52], "-._") + "-" + shortHash(v)
}

// BuildJob returns the ConfigMap holding the plan and the Job running it. The plan's
// database section is filled in here, pointing at the files the pod mounts from Secrets;
// the ConfigMap's owner reference (to the Job) is set once the Job exists.
func BuildJob(s JobSettings, w WorkerJob) (*corev1.ConfigMap, *batchv1.Job, error) {
	p := w.Plan
	p.Database = databasePlan(w.Database)
	p.Database.AllowLinkLocal = s.AllowLinkLocalHosts
	p.Subjects = nil
	for i, subj := range w.Subjects {
		p.Subjects = append(p.Subjects, plan.Subject{
			ID: subj.ID, Type: subj.Type, Action: subj.Action,
			ValueFile: fmt.Sprintf("%s/%d", subjectsDir, i),
		})
	}
	if w.HashKey != nil {
		p.Options.HashKeyFile = hashKeyDir + "/key"
	}
	if p.Kind == plan.KindExport {
		p.Options.ExportDir = scratchDir + "/export"
	}
	planJSON, err := json.Marshal(p)
	if err != nil {
		return nil, nil, err
	}
	if size := len(planJSON) + len(planKey); size > maxConfigMapData {
		return nil, nil, &PlanTooLargeError{Kind: p.Kind, Bytes: size}
	}
	hash := PlanHash(p)
	name := JobName(w.Owner.GetName(), p.Kind, hash+"/"+w.Key)
	labels := map[string]string{
		LabelManagedBy: ManagedByLethe,
		LabelComponent: "worker",
		LabelOwnerKind: w.OwnerKind,
		LabelOwnerName: labelValue(w.Owner.GetName()),
		LabelPlanKind:  string(p.Kind),
		LabelDatabase:  labelValue(w.Database.Name),
	}
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: w.Owner.GetNamespace(), Labels: labels},
		Data:       map[string]string{planKey: string(planJSON)},
	}
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: w.Owner.GetNamespace(), Labels: labels,
			Annotations: map[string]string{AnnotationPlanHash: hash},
		},
		Spec: batchv1.JobSpec{
			TTLSecondsAfterFinished: ptr.To(s.TTLSecondsAfterFinished),
			ActiveDeadlineSeconds:   ptr.To(s.ActiveDeadlineSeconds),
			BackoffLimit:            ptr.To(s.BackoffLimit),
			PodFailurePolicy:        workerFailurePolicy(),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       podSpec(s, name, w),
			},
		},
	}
	return cm, job, nil
}

// maxConfigMapData is what the API server lets a ConfigMap hold (its keys and values).
const maxConfigMapData = 1 << 20

// planKey is the plan's key in its ConfigMap.
const planKey = "plan.json"

// PlanTooLargeError: the plan does not fit in a ConfigMap. A DataMap within every bound
// of its CRD can still reach this; the owner is Stalled with the size, not retried.
type PlanTooLargeError struct {
	Kind  plan.Kind
	Bytes int
}

func (e *PlanTooLargeError) Error() string {
	return fmt.Sprintf("the %s plan is %d bytes (%.2f MiB), more than the %d bytes (1 MiB) a ConfigMap holds: "+
		"the DataMap (and the rules) must shrink, e.g. by splitting the DataMap per application", e.Kind, e.Bytes,
		float64(e.Bytes)/(1<<20), maxConfigMapData)
}

// workerFailurePolicy is the Job's pod failure policy: a worker that exits with a fixed
// outcome (plan.ExitFinal: the plan was refused, the schema does not match) fails the Job
// at once, since another pod would say the same; a pod evicted or preempted
// (DisruptionTarget) is retried without counting against the backoff limit. Exit code 2 is
// left to the backoff limit: besides a wrong command line, it is how a Go program that
// crashed exits.
func workerFailurePolicy() *batchv1.PodFailurePolicy {
	return &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{
		{
			Action: batchv1.PodFailurePolicyActionFailJob,
			OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{
				ContainerName: ptr.To(workerContainer),
				Operator:      batchv1.PodFailurePolicyOnExitCodesOpIn,
				Values:        []int32{plan.ExitFinal},
			},
		},
		{
			Action:          batchv1.PodFailurePolicyActionIgnore,
			OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue}},
		},
	}}
}

func databasePlan(db *privacyv1alpha1.TenantDatabase) plan.Database {
	d := plan.Database{
		Engine: string(db.Spec.Engine), Host: db.Spec.Host, Port: int(db.Spec.Port), Name: db.Spec.Database,
		UsernameFile: credentialsDir + "/username", PasswordFile: credentialsDir + "/password",
		TLS: plan.TLS{Mode: string(db.GetTLSMode())},
	}
	if db.Spec.TLS != nil {
		d.TLS.ServerName = db.Spec.TLS.ServerName
		if db.Spec.TLS.CASecretRef != nil {
			d.TLS.CAFile = caDir + "/ca.crt"
		}
	}
	return d
}

func podSpec(s JobSettings, name string, w WorkerJob) corev1.PodSpec {
	volumes, mounts := workerVolumes(name, w)
	serviceAccount, token := s.ServiceAccountName, false
	if w.Plan.Kind == plan.KindExport && w.Plan.Options.ExportSecret != nil {
		// The export is delivered by the worker itself, so it never passes through the
		// manager: this pod alone talks to the API server, as an account that can only
		// create Secrets.
		serviceAccount, token = s.ExportServiceAccountName, true
		if serviceAccount == "" {
			serviceAccount = DefaultJobSettings().ExportServiceAccountName
		}
	}
	if w.Plan.Kind == plan.KindDraft {
		// A draft of a large schema does not fit in a termination message: the worker
		// publishes it in a ConfigMap, as an account that can only create ConfigMaps.
		serviceAccount, token = s.DraftServiceAccountName, true
		if serviceAccount == "" {
			serviceAccount = DefaultJobSettings().DraftServiceAccountName
		}
	}
	return corev1.PodSpec{
		RestartPolicy:                corev1.RestartPolicyNever,
		ServiceAccountName:           serviceAccount,
		AutomountServiceAccountToken: ptr.To(token),
		EnableServiceLinks:           ptr.To(false),
		SecurityContext: &corev1.PodSecurityContext{
			RunAsNonRoot:   ptr.To(true),
			RunAsUser:      ptr.To[int64](65532),
			RunAsGroup:     ptr.To[int64](65532),
			FSGroup:        ptr.To[int64](65532),
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
		Volumes: volumes,
		Containers: []corev1.Container{{
			Name:                     workerContainer,
			Image:                    s.Image,
			ImagePullPolicy:          s.ImagePullPolicy,
			Command:                  []string{"/lethe"},
			Args:                     []string{"worker", "--plan", planFile, "--termination-log", terminationLog},
			VolumeMounts:             mounts,
			Resources:                s.Resources,
			TerminationMessagePath:   terminationLog,
			TerminationMessagePolicy: corev1.TerminationMessageReadFile,
			SecurityContext: &corev1.SecurityContext{
				AllowPrivilegeEscalation: ptr.To(false),
				ReadOnlyRootFilesystem:   ptr.To(true),
				RunAsNonRoot:             ptr.To(true),
				Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
				SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
		}},
	}
}

// workerVolumes mounts the plan, the database login, the TLS CA, the hash key and the
// subjects' identifiers, each read-only, plus a scratch directory.
func workerVolumes(name string, w WorkerJob) ([]corev1.Volume, []corev1.VolumeMount) {
	creds := w.Database.Spec.CredentialsSecretRef
	volumes := []corev1.Volume{
		{Name: "plan", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: name}}}},
		secretVolume("db-credentials", creds.Name,
			corev1.KeyToPath{Key: creds.GetUsernameKey(), Path: "username"},
			corev1.KeyToPath{Key: creds.GetPasswordKey(), Path: "password"}),
		{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
	}
	mounts := []corev1.VolumeMount{
		{Name: "plan", MountPath: planDir, ReadOnly: true},
		{Name: "db-credentials", MountPath: credentialsDir, ReadOnly: true},
		{Name: "scratch", MountPath: scratchDir},
	}
	if tls := w.Database.Spec.TLS; tls != nil && tls.CASecretRef != nil {
		volumes = append(volumes, secretVolume("db-ca", tls.CASecretRef.Name, corev1.KeyToPath{Key: tls.CASecretRef.Key, Path: "ca.crt"}))
		mounts = append(mounts, corev1.VolumeMount{Name: "db-ca", MountPath: caDir, ReadOnly: true})
	}
	if w.HashKey != nil {
		volumes = append(volumes, secretVolume("hash-key", w.HashKey.Name, corev1.KeyToPath{Key: w.HashKey.Key, Path: "key"}))
		mounts = append(mounts, corev1.VolumeMount{Name: "hash-key", MountPath: hashKeyDir, ReadOnly: true})
	}
	if len(w.Subjects) > 0 {
		var sources []corev1.VolumeProjection
		for i, subj := range w.Subjects {
			sources = append(sources, corev1.VolumeProjection{Secret: &corev1.SecretProjection{
				LocalObjectReference: corev1.LocalObjectReference{Name: subj.SecretRef.Name},
				Items:                []corev1.KeyToPath{{Key: subj.SecretRef.Key, Path: strconv.Itoa(i)}},
			}})
		}
		volumes = append(volumes, corev1.Volume{Name: "subjects", VolumeSource: corev1.VolumeSource{
			Projected: &corev1.ProjectedVolumeSource{Sources: sources, DefaultMode: ptr.To[int32](0o400)}}})
		mounts = append(mounts, corev1.VolumeMount{Name: "subjects", MountPath: subjectsDir, ReadOnly: true})
	}
	return volumes, mounts
}

func secretVolume(volume, secret string, items ...corev1.KeyToPath) corev1.Volume {
	return corev1.Volume{Name: volume, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
		SecretName: secret, Items: items, DefaultMode: ptr.To[int32](0o400)}}}
}
