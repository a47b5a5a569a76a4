// How every pod the stack declares runs: the Kubernetes Pod Security Standards "restricted" profile
// (kubernetes.io/docs/concepts/security/pod-security-standards/: non-root, RuntimeDefault seccomp, no
// privilege escalation, all capabilities dropped), plus a read-only root filesystem. One definition, so
// the backup jobs, the heartbeat and the Pushgateway cannot drift apart; and the one shape of a
// single-replica Deployment, which the heartbeat and the Pushgateway both are.

/**
 * The user of the jobs' image (images/backup-jobs/Dockerfile: `USER 999`, the official postgres image's
 * `postgres`), which the backup and verification jobs, the fence check and the heartbeat run as.
 */
export const JOB_IMAGE_UID = 999;

/** The pod-level security context for an image whose user is `uid` (`fsGroup`: volumes writable by it). */
export function restrictedPodSecurity(uid: number, options: { fsGroup?: boolean } = {}) {
    return {
        runAsNonRoot: true,
        runAsUser: uid,
        runAsGroup: uid,
        ...(options.fsGroup ? { fsGroup: uid } : {}),
        seccompProfile: { type: "RuntimeDefault" },
    };
}

/** The container-level security context of every container the stack declares. */
export function restrictedContainerSecurity() {
    return { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } };
}

/** A Deployment spec of one replica whose pods carry (and are selected by) `labels`. */
export function singleReplicaDeploymentSpec<Pod extends object>(labels: Record<string, string>, pod: Pod) {
    return {
        replicas: 1,
        selector: { matchLabels: labels },
        template: { metadata: { labels }, spec: pod },
    };
}
