// The contract: every name that two or more parts of drstack must agree on, in one place.
// The components declare resources with these names, the policy pack finds resources by them,
// the alert rules and the dashboard query the metrics the backup scripts publish under them, and
// the tests import them. Shell scripts cannot import TypeScript, so test/unit/contract.test.ts
// checks that scripts/lib.sh, the scripts and scripts/README.md use exactly these names.
// Pure data: no Pulumi import (the policy pack and the drill load this without the engine).

import { FENCE_CHECK } from "./fence";

/** The project's config namespace: keys are written `drstack:<key>` in Pulumi.<stack>.yaml. */
export const NAMESPACE = "drstack";

/** A stack setting as users write it: configKey("replication.replicationTimeControl") -> "drstack:replication.replicationTimeControl". */
export function configKey(path: string): string {
    return `${NAMESPACE}:${path}`;
}

/**
 * Component type tokens (`drstack:<module>:<Name>`), which become part of every child's URN.
 * Changing one replaces the component's resources in a deployed stack unless the component
 * declares an alias for the old token, so they stay as first shipped.
 */
export const COMPONENT_TYPES = {
    region: "drstack:region:DrRegion",
    backupBucket: "drstack:storage:BackupBucket",
    replication: "drstack:storage:CrossRegionReplication",
    operators: "drstack:postgres:PostgresOperators",
    postgresCluster: "drstack:postgres:PostgresCluster",
    databaseRoles: "drstack:postgres:DatabaseRoles",
    backupJobs: "drstack:backups:BackupJobs",
    alerts: "drstack:alerts:DrAlerts",
    failoverRecord: "drstack:dns:FailoverRecord",
    restoreCluster: "drstack:postgres:RestoreCluster",
    fencing: "drstack:fencing:Fencing",
} as const;

/** Pulumi type tokens of the provider resources the policy pack and the tests look for. */
export const RESOURCE_TYPES = {
    cnpgCluster: "kubernetes:postgresql.cnpg.io/v1:Cluster",
    scheduledBackup: "kubernetes:postgresql.cnpg.io/v1:ScheduledBackup",
    objectStore: "kubernetes:barmancloud.cnpg.io/v1:ObjectStore",
    prometheusRule: "kubernetes:monitoring.coreos.com/v1:PrometheusRule",
    podMonitor: "kubernetes:monitoring.coreos.com/v1:PodMonitor",
    cronJob: "kubernetes:batch/v1:CronJob",
    deployment: "kubernetes:apps/v1:Deployment",
    service: "kubernetes:core/v1:Service",
    secret: "kubernetes:core/v1:Secret",
    serviceAccount: "kubernetes:core/v1:ServiceAccount",
    configMap: "kubernetes:core/v1:ConfigMap",
    bucket: "aws:s3/bucket:Bucket",
    bucketVersioning: "aws:s3/bucketVersioning:BucketVersioning",
    bucketEncryption: "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    bucketPublicAccessBlock: "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    bucketPolicy: "aws:s3/bucketPolicy:BucketPolicy",
    bucketLifecycle: "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    bucketObjectLock: "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration",
    bucketReplication: "aws:s3/bucketReplicationConfig:BucketReplicationConfig",
    kmsKey: "aws:kms/key:Key",
    route53Record: "aws:route53/record:Record",
    route53HealthCheck: "aws:route53/healthCheck:HealthCheck",
    metricAlarm: "aws:cloudwatch/metricAlarm:MetricAlarm",
    bucketObject: "aws:s3/bucketObjectv2:BucketObjectv2",
    role: "kubernetes:rbac.authorization.k8s.io/v1:Role",
    roleBinding: "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
    snsTopicSubscription: "aws:sns/topicSubscription:TopicSubscription",
} as const;

/** The CloudNativePG-I plugin that archives WAL and takes base backups (plugin-barman-cloud). */
export const BARMAN_CLOUD_PLUGIN = "barman-cloud.cloudnative-pg.io";

/** Tags on every AWS resource; the policy pack finds the backup buckets by the purpose tag. */
export const TAG_KEYS = { prefix: "drstack:prefix", purpose: "drstack:purpose", managedBy: "managed-by" } as const;
export const BACKUP_PURPOSE_TAG = { key: TAG_KEYS.purpose, value: "postgresql-backups" } as const;

export function awsTags(prefix: string): Record<string, string> {
    return { [TAG_KEYS.prefix]: prefix, [BACKUP_PURPOSE_TAG.key]: BACKUP_PURPOSE_TAG.value, [TAG_KEYS.managedBy]: "pulumi" };
}

/** Kubernetes labels of the backup jobs; the policy pack selects CronJobs by them. */
export const LABELS = {
    partOf: { key: "app.kubernetes.io/part-of", value: "drstack" },
    component: { key: "app.kubernetes.io/component", value: "backups" },
    job: "drstack.io/job",
    kind: "drstack.io/kind",
    /** On a point-in-time restore Cluster: the restore's name (drstack:restore[i].name). The pack exempts these
     * clusters from the archiving and role policies and holds them to the restore policy instead. */
    restore: "drstack.io/restore",
} as const;

/** Annotations drstack puts on objects it declares. */
export const ANNOTATIONS = {
    /** On the CNPG Cluster: drstack:rebuildGeneration; changing it replaces the Cluster (components/postgres/cluster.ts). */
    rebuildGeneration: "drstack.io/rebuild-generation",
} as const;

/** Values of the `drstack.io/job` label. */
export const JOB_LABEL_VALUES = { logicalBackup: "logical-backup", restoreVerification: "restore-verification", fenceCheck: "fence-check" } as const;

/** The fence-check job's objects (components/fencing/fencing.ts; the script is scripts/fence-check.sh). */
export function fenceCheckObjectNames(cluster: string): { cronJob: string; serviceAccount: string; role: string; roleBinding: string } {
    const name = `${cluster}-fence-check`;
    return { cronJob: name, serviceAccount: name, role: name, roleBinding: name };
}

/**
 * The DNS fence (DESIGN.md "Static stability"): a CloudWatch alarm in the non-home region on a
 * metric nobody publishes, so its state is decided by treatMissingData alone (breaching -> ALARM ->
 * the home record's health check fails). Route53 alarm health checks need a standard-resolution
 * metric and a simple statistic (Route53 developer guide, "Monitoring a CloudWatch alarm").
 */
export const DNS_FENCE_METRIC = { namespace: "drstack/Fence", metricName: "DnsFenceNeverPublished", dimension: "Cluster" } as const;

/** The three backup jobs; each runs scripts/<kind>.sh. */
export const JOB_KINDS = ["logical-backup", "verify-logical", "verify-physical"] as const;
export type JobKind = (typeof JOB_KINDS)[number];

/** Names of a cluster's backup CronJobs; alert rules select them by these names. */
export function jobNames(cluster: string): { logicalBackup: string; verifyLogical: string; verifyPhysical: string } {
    return {
        logicalBackup: `${cluster}-logical-backup`,
        verifyLogical: `${cluster}-verify-logical`,
        verifyPhysical: `${cluster}-verify-physical`,
    };
}

/** The Kubernetes objects named after a cluster that several components or the docs refer to. */
export function clusterObjectNames(cluster: string) {
    return {
        /** ConfigMap with scripts/*.sh the jobs run. */
        scriptsConfigMap: `${cluster}-backup-scripts`,
        /** ServiceAccount (IRSA) of the backup jobs. */
        jobsServiceAccount: `${cluster}-backup-jobs`,
        /** basic-auth Secret of the verification role: the logical backup's default credentials. */
        verificationCredentials: `${cluster}-verification-credentials`,
        /** basic-auth Secret of the monitoring role. */
        monitoringCredentials: `${cluster}-monitoring-credentials`,
        /** Barman Cloud ObjectStore of the cluster's own archive, and the read-only one of its replicated copy. */
        archiveObjectStore: `${cluster}-archive`,
        replicatedArchiveObjectStore: `${cluster}-replicated-archive`,
        /** ScheduledBackup of the cluster. */
        baseBackup: `${cluster}-base-backup`,
        /** Deployment that commits the heartbeat on the primary (components/monitoring/heartbeat.ts). */
        heartbeat: `${cluster}-heartbeat`,
        /** PrometheusRule and Grafana dashboard ConfigMap. */
        prometheusRule: `${cluster}-dr-alerts`,
        dashboardConfigMap: `${cluster}-dr-dashboard`,
        /**
         * In the PEER region's namespace: the Secret (tls.crt, tls.key, ca.crt) the peer streams from
         * this cluster with, made from CloudNativePG's `<cluster>-replication` (streaming_replica client
         * certificate) and `<cluster>-ca` Secrets (docs/src/replica_cluster.md @v1.30.0). `drstack:streaming.tlsSecretName`.
         */
        streamingReplicaTls: `${cluster}-streaming-replica-tls`,
        /** PodMonitor that makes the user's Prometheus scrape the cluster's instances. */
        podMonitor: `${cluster}-instances`,
        /** The Pushgateway the stack deploys when drstack:backups.pushgatewayUrl is unset (Deployment, Service, PodMonitor). */
        pushgateway: `${cluster}-pushgateway`,
        /** The read-write and read-only services CloudNativePG creates. */
        rwService: `${cluster}-rw`,
        roService: `${cluster}-ro`,
        /** The basic-auth Secret of the application database owner CloudNativePG generates
         * (docs/src/applications.md @v1.30.0: `[cluster name]-app`). */
        appSecret: `${cluster}-app`,
    };
}

/**
 * Labels CloudNativePG sets on the pods it runs and reads on Secrets (pkg/utils/labels_annotations.go
 * @v1.30.0: ClusterLabelName, PodRoleLabelName; docs/src/declarative_role_management.md: reload).
 */
export const CNPG_LABELS = {
    cluster: "cnpg.io/cluster",
    podRole: { key: "cnpg.io/podRole", instance: "instance" },
    reload: { key: "cnpg.io/reload", value: "true" },
} as const;

/** Name of the metrics port of CloudNativePG's instance pods (docs/src/monitoring.md @v1.30.0). */
export const CNPG_METRICS_PORT = "metrics";

/** The Pushgateway the stack deploys when none is given: pinned image, port and name of that port. */
export const PUSHGATEWAY = { image: "prom/pushgateway:v1.11.3", port: 9091, portName: "http" } as const;

/**
 * The heartbeat: a transactional logical-decoding message is a transaction of its own (PostgreSQL
 * assigns it an xid and writes a COMMIT record with a timestamp, seen with pg_waldump), so it moves
 * pg_last_xact_replay_timestamp() on every copy without a table or a write grant:
 * pg_logical_emit_message is executable by PUBLIC. Logical decoding consumers skip messages whose
 * prefix they do not know.
 */
export const HEARTBEAT = {
    prefix: "drstack-heartbeat",
    sql: "SELECT pg_logical_emit_message(true, 'drstack-heartbeat', now()::text)",
} as const;

/** Where things live in a backup bucket, per cluster (the scripts' S3_PREFIX / RESULTS_PREFIX defaults). */
export const BUCKET_PREFIXES = {
    logical: (cluster: string) => `logical/${cluster}/`,
    /** barman-cloud writes base backups and WAL under <server name>/. */
    barman: (cluster: string) => `${cluster}/`,
    verificationRoot: "verification/",
    /**
     * Restore-verification results written by the jobs of `cluster`'s region (their RESULTS_PREFIX):
     * `verification/<verifying cluster>/<verified cluster>/<kind>-latest.json`. Keyed by the region
     * that verifies, so replicating a stack's own prefixes never overwrites the peer's results.
     */
    verification: (cluster: string) => `verification/${cluster}/`,
} as const;

/** Metrics the backup scripts publish (scripts/lib.sh, scripts/logical-backup.sh; documented in scripts/README.md). */
export const JOB_METRICS = {
    verificationSuccess: "drstack_restore_verification_success",
    verificationLastRun: "drstack_restore_verification_last_run_timestamp_seconds",
    verificationLastSuccess: "drstack_restore_verification_last_success_timestamp_seconds",
    verificationDuration: "drstack_restore_verification_duration_seconds",
    verificationRecoveryPointAge: "drstack_restore_verification_recovery_point_age_seconds",
    logicalBackupLastSuccess: "drstack_logical_backup_last_success_timestamp_seconds",
    logicalBackupSize: "drstack_logical_backup_size_bytes",
    // fence-check.sh (model/fence.ts keeps them beside the marker they describe)
    fenceCheckSuccess: FENCE_CHECK.metrics.success,
    fenceCheckLastRun: FENCE_CHECK.metrics.lastRun,
    fenceClusterFenced: FENCE_CHECK.metrics.fenced,
    fencePromotionGeneration: FENCE_CHECK.metrics.promotionGeneration,
    fenceMarkerGeneration: FENCE_CHECK.metrics.markerGeneration,
    fenceMarkerTimestamp: FENCE_CHECK.metrics.markerTimestamp,
} as const;

/** Labels of the job metrics; `cluster` is the CLUSTER_NAME the job verifies. */
export const JOB_METRIC_LABELS = { cluster: "cluster", kind: "kind" } as const;

/** Pushgateway job names the scripts push under. */
export const PUSHGATEWAY_JOBS = {
    verification: "drstack-restore-verification",
    logicalBackup: "drstack-logical-backup",
    fenceCheck: FENCE_CHECK.pushgatewayJob,
} as const;

/** Metrics of other exporters the rules, the dashboard and the pack read. */
export const EXTERNAL_METRICS = {
    archiveAge: "cnpg_pg_stat_archiver_seconds_since_last_archival",
    archiveLastFailed: "cnpg_pg_stat_archiver_last_failed_time",
    archiveLastArchived: "cnpg_pg_stat_archiver_last_archived_time",
    archiveFailedCount: "cnpg_pg_stat_archiver_failed_count",
    archivedCount: "cnpg_pg_stat_archiver_archived_count",
    /** pg_postmaster query of CloudNativePG's default monitoring: when PostgreSQL started (epoch). */
    postmasterStartTime: "cnpg_pg_postmaster_start_time",
    walArchiveStatus: "cnpg_collector_pg_wal_archive_status",
    replicationLag: "cnpg_pg_replication_lag",
    walReceiverUp: "cnpg_pg_replication_is_wal_receiver_up",
    lastAvailableBackup: "barman_cloud_cloudnative_pg_io_last_available_backup_timestamp",
    cronJobLastSuccess: "kube_cronjob_status_last_successful_time",
    /** kube-state-metrics Job metrics (labels namespace, job_name; kube_job_owner adds owner_kind, owner_name). */
    jobStartTime: "kube_job_status_start_time",
    jobActive: "kube_job_status_active",
    jobOwner: "kube_job_owner",
    s3ReplicationLatency: "ReplicationLatency",
    s3OperationsFailedReplication: "OperationsFailedReplication",
} as const;

/** The environment variables each script reads (scripts/README.md has a table per script). */
export const SCRIPT_ENV = {
    common: ["CLUSTER_NAME", "S3_BUCKET", "METRICS_FILE", "PUSHGATEWAY_URL", "S3_ENDPOINT_URL", "S3_SSE_KMS_KEY_ID"],
    "logical-backup": ["BACKUP_DATABASES", "S3_PREFIX", "PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGSSLMODE"],
    "verify-logical": ["S3_PREFIX", "VERIFY_SQL_FILE", "VERIFY_SQL_DATABASE", "RESULTS_PREFIX"],
    "verify-physical": ["BARMAN_DESTINATION", "BARMAN_SERVER_NAME", "RPO_SECONDS", "VERIFY_TIMEOUT_SECONDS", "VERIFY_SQL_FILE", "VERIFY_SQL_DATABASE", "RESULTS_PREFIX"],
} as const satisfies Record<"common" | JobKind, readonly string[]>;
