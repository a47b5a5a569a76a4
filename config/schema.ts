// The schema of the drstack config namespace (plus aws:region): every setting, its default and
// what it allows. Adding a setting means adding it here and, if it feeds other values, to derive.ts.
// The settings type is z.output of this schema (config/types.ts); nothing restates it by hand.

import { z } from "zod";
import { parseDuration } from "../model/duration";
import { restoreSettings } from "./restore";
import { FENCE_GENERATION_MAX } from "../model/fence";
import { awsRegion, boolish, count, cron, dnsName, duration, ONE_DAY, oneOf, pgSize, pinnedImage, quantity, resources, show, volumeSize } from "./fields";

export const ROLES = ["primary", "standby"] as const;
export type Role = (typeof ROLES)[number];

export const OBJECT_LOCK_MODES = ["GOVERNANCE", "COMPLIANCE"] as const;
export const ARCHIVE_STORAGE_CLASSES = ["GLACIER_IR", "GLACIER", "DEEP_ARCHIVE"] as const;
export const REPLICA_STORAGE_CLASSES = ["STANDARD", "STANDARD_IA", "INTELLIGENT_TIERING"] as const;
export const NOTIFY_PROTOCOLS = ["email", "https", "sqs", "lambda", "sms"] as const;

/** Smallest PostgreSQL data volume accepted. */
export const MIN_DATA_VOLUME = "1Gi";
/** Smallest WAL volume accepted. */
export const MIN_WAL_VOLUME = "2Gi";

const PREFIX = /^[a-z][a-z0-9-]{1,30}[a-z0-9]$/;


export const WAL_COMPRESSIONS = ["gzip", "bzip2", "snappy", "lz4", "xz", "zstd"] as const;
export const DATA_COMPRESSIONS = ["gzip", "bzip2", "snappy"] as const;

const targetsByDisruption = z.strictObject({
    region: duration(),
    "data-corruption": duration(),
});

// ---- the schema of the drstack namespace (plus aws:region) ----

export const schema = z.strictObject({
    /** Which side of the pair this stack is; switching it is the whole promotion. */
    role: oneOf(ROLES),
    /** The other stack's region. */
    peerRegion: awsRegion,
    /** Names every resource; must be the same in both stacks. */
    prefix: z.string().regex(PREFIX, {
        message: "must be 3-32 characters of lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen",
    }),
    /** Recovery point objectives per disruption type. */
    rpo: targetsByDisruption,
    /** Recovery time objectives per disruption type. */
    rto: targetsByDisruption,
    /** How far back a point-in-time restore must reach (base backups and WAL are kept this long). */
    recoveryWindow: duration(ONE_DAY).default(30 * ONE_DAY),
    /** Time allowed for uploading one WAL segment; part of every RPO bound. */
    walUploadAllowance: duration(1).default(30),
    backupBucket: z
        .strictObject({
            /** S3 Object Lock default retention, so a compromised account cannot erase backups. */
            objectLock: z
                .strictObject({
                    mode: oneOf(OBJECT_LOCK_MODES),
                    retention: duration(ONE_DAY),
                })
                .optional(),
            /** How long overwritten or deleted versions stay restorable; at least the recovery window. */
            noncurrentVersionRetention: duration(ONE_DAY).optional(),
            /** Incomplete multipart uploads (interrupted backups) are cleaned after this. */
            abortIncompleteUploadsAfter: duration(ONE_DAY).default(3 * ONE_DAY),
            /** Monthly/yearly archives kept for compliance, moved to cold storage. */
            longTermArchive: z
                .strictObject({
                    prefix: z.string().regex(/^[A-Za-z0-9!_.*'()-]+(\/[A-Za-z0-9!_.*'()-]+)*\/$/, {
                        message: "must be a key prefix ending in '/', e.g. archive/",
                    }).default("archive/"),
                    transitionAfter: duration(ONE_DAY).default(30 * ONE_DAY),
                    storageClass: oneOf(ARCHIVE_STORAGE_CLASSES).default("DEEP_ARCHIVE"),
                    retention: duration(ONE_DAY).default(parseDuration("7y")!),
                })
                .prefault({}),
            /** Pulumi refuses to delete the bucket and key while this is on. */
            protect: boolish.default(true),
        })
        .prefault({}),
    replication: z
        .strictObject({
            /** Replicate this region's backups to the peer while this stack is primary. */
            enabled: boolish.default(true),
            /** S3 Replication Time Control: 15-minute replication SLA plus metrics. */
            replicationTimeControl: boolish.default(true),
            storageClass: oneOf(REPLICA_STORAGE_CLASSES).default("STANDARD"),
        })
        .prefault({}),
    /** Where the region's Kubernetes cluster is and how workloads get AWS credentials. */
    kubernetes: z.strictObject({
        /** kubeconfig context to use; the ambient kubeconfig's current context when omitted. */
        context: z.string().min(1).optional(),
        /** Path to a kubeconfig file; the ambient KUBECONFIG when omitted. */
        kubeconfig: z.string().min(1).optional(),
        /** Namespace of the PostgreSQL cluster and the backup jobs. */
        namespace: z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, { message: "is not a Kubernetes namespace name" }).default("databases"),
        createNamespace: boolish.default(true),
        /** The EKS cluster's IAM OIDC provider, for IAM roles for service accounts (IRSA). */
        oidcProviderArn: z.string().regex(/^arn:aws[a-z-]*:iam::\d{12}:oidc-provider\/.+$/, {
            message: "is not an IAM OIDC provider ARN like arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC",
        }),
        /** Install the CloudNativePG operator and its Barman Cloud plugin (off when the platform team runs them). */
        installOperators: boolish.default(true),
    }),
    postgres: z
        .strictObject({
            instances: count(1, 9).default(3),
            /** Pinned PostgreSQL image (CloudNativePG operand image). */
            imageName: pinnedImage("ghcr.io/cloudnative-pg/postgresql:16.6"),
            storage: z.strictObject({ size: volumeSize(MIN_DATA_VOLUME, "a PostgreSQL data directory after initdb plus room to grow").default("50Gi"), storageClass: z.string().optional() }).prefault({}),
            walStorage: z
                .strictObject({ size: volumeSize(MIN_WAL_VOLUME, "PostgreSQL keeps up to max_wal_size (1GB by default) of WAL, more while archiving lags").default("10Gi"), storageClass: z.string().optional() })
                .prefault({}),
            resources: resources.default({ requests: { cpu: "1", memory: "2Gi" }, limits: { memory: "2Gi" } }),
            walLevel: oneOf(["replica", "logical"] as const).default("logical"),
            /** Caps WAL kept for replication slots, so a dead standby cannot fill the primary's disk. */
            maxSlotWalKeepSize: pgSize.default("10GB"),
            walCompression: oneOf(WAL_COMPRESSIONS).default("gzip"),
            walMaxParallel: count(1, 16).default(4),
            backupCompression: oneOf(DATA_COMPRESSIONS).default("gzip"),
            backupJobs: count(1, 16).default(2),
            /** Extra PostgreSQL parameters (not the reserved ones drstack derives). */
            parameters: z.record(z.string(), z.string()).default({}),
            database: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, { message: "is not a PostgreSQL identifier" }).default("app"),
        })
        .prefault({}),
    backups: z
        .strictObject({
            /** CloudNativePG base backups: 6 fields, seconds first. */
            baseBackupSchedule: cron("cloudnative-pg").default("0 0 2 * * *"),
            /** Logical pg_dump CronJob (5 fields, UTC). */
            logicalBackupSchedule: cron("kubernetes").default("15 3 * * *"),
            /** Restore verification CronJob (5 fields, UTC). */
            verificationSchedule: cron("kubernetes").default("0 5 * * 0"),
            /** Image the backup CronJobs run (images/backup-jobs): pinned by tag or digest, never latest. */
            jobImage: pinnedImage("ghcr.io/acme/drstack-backup-jobs:1.0.0"),
            /** Databases the logical backup dumps; the cluster's application database by default. */
            databases: z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, { message: "is not a database name" })).optional(),
            /** Scratch space (emptyDir) of each job: the largest dump, or the restored database. */
            scratchSize: quantity.default("20Gi"),
            resources: resources.default({ requests: { cpu: "500m", memory: "1Gi" }, limits: { memory: "2Gi" } }),
            /** Application checks run on every restored copy (VERIFY_SQL_FILE contract, scripts/README.md). */
            verifySql: z.string().optional(),
            /** Prometheus Pushgateway the jobs publish their results to. */
            pushgatewayUrl: z.string().regex(/^https?:\/\//, { message: "must be an http(s) URL" }).optional(),
            /** Kubernetes Secret (basic-auth) the logical backup connects with; the verification role's by default. */
            credentialsSecret: z.string().optional(),
        })
        .prefault({}),
    /** Stream WAL from the peer's primary too (lower lag than the archive alone). */
    streaming: z
        .strictObject({
            /** Host name of the peer's read-write service, reachable from this region. */
            host: z.string().min(1),
            port: count(1, 65535).default(5432),
            /** Kubernetes Secret (in the namespace) with tls.crt/tls.key/ca.crt of the streaming_replica client certificate. */
            tlsSecretName: z.string().min(1),
            sslmode: oneOf(["verify-full", "verify-ca", "require"] as const).default("verify-full"),
            /** This cluster's read-write endpoint as the peer dials it: added to its server certificate, so the peer's verify-full passes. */
            advertisedHost: z.string().min(1).optional(),
        })
        .optional(),
    /** Route53 failover routing to this region's public endpoint. */
    dns: z
        .strictObject({
            /** Hosted zone of the failover record (same in both stacks). */
            zoneId: z.string().regex(/^Z[A-Z0-9]{1,32}$/, { message: "is not a Route53 hosted zone id like Z0123456789ABCDEFGHIJ" }),
            /** The name clients use (same in both stacks), e.g. db-api.acme.example.com. */
            recordName: dnsName,
            /** This region's endpoint (per stack): a DNS name the record points at, and the health check probes. */
            endpoint: dnsName,
            /** cname: a CNAME record; alias: an A alias to a load balancer (needs aliasZoneId). */
            endpointType: oneOf(["cname", "alias"] as const).default("cname"),
            aliasZoneId: z.string().optional(),
            healthCheck: z
                .strictObject({
                    protocol: oneOf(["HTTPS", "HTTP"] as const).default("HTTPS"),
                    path: z.string().regex(/^\//, { message: "must start with /" }).default("/healthz"),
                    port: count(1, 65535).default(443),
                    /** Route53 supports 10 (fast) or 30 seconds. */
                    interval: z.union([z.literal(10), z.literal(30), z.enum(["10", "30"]).transform(Number)], {
                        error: (issue) => `${show(issue.input)} is not allowed; allowed: 10, 30 (seconds)`,
                    }).default(10),
                    failureThreshold: count(1, 10).default(3),
                    /** Route53 checker regions: at least 3. */
                    regions: z
                        .array(z.string())
                        .min(3, { message: "needs at least 3 Route53 checker regions" })
                        .default(["us-east-1", "us-west-2", "eu-west-1"]),
                })
                .prefault({}),
        })
        .optional(),
    alerts: z
        .strictObject({
            /** SNS subscriptions for CloudWatch alarms, e.g. [{ protocol: email, endpoint: oncall@acme.example.com }]; at least one unless allowNoNotify. */
            notify: z.array(z.strictObject({ protocol: oneOf(NOTIFY_PROTOCOLS), endpoint: z.string() })).default([]),
            /** Confirms on purpose that the alarms page nobody (e.g. a test stack): needed for an empty notify. */
            allowNoNotify: boolish.default(false),
            /** Where runbook_url links point (the README's alert runbooks). */
            runbookBaseUrl: z.string().regex(/^https?:\/\//, { message: "must be an http(s) URL" }).default("https://github.com/acme/drstack/blob/main/README.md"),
            /** Ship the Grafana dashboard ConfigMap (for the Grafana sidecar). */
            grafanaDashboard: boolish.default(true),
            /** Labels the Prometheus operator's ruleSelector matches, e.g. { release: kube-prometheus-stack }. */
            ruleLabels: z.record(z.string(), z.string()).default({}),
            /** Labels the Prometheus operator's podMonitorSelector matches; drstack:alerts.ruleLabels when omitted. */
            monitorLabels: z.record(z.string(), z.string()).optional(),
        })
        .prefault({}),
    /**
     * The jobs' database roles are CloudNativePG managed roles (always declared). Grants on the
     * application databases need a connection from where `pulumi up` runs: opt-in with manageGrants.
     */
    database: z
        .strictObject({
            manageGrants: boolish.default(false),
            /** Removed: the roles are always declared now; config/checks.ts (manageRolesRemoved) says what to do. */
            manageRoles: z.unknown().optional(),
            host: z.string().min(1).optional(),
            port: count(1, 65535).default(5432),
            username: z.string().min(1).default("postgres"),
            sslmode: oneOf(["require", "verify-ca", "verify-full", "disable"] as const).default("require"),
            monitoringRole: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/).default("drstack_monitor"),
            verificationRole: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/).default("drstack_verifier"),
        })
        .prefault({}),
    /** Password of `database.username`; must be a Pulumi secret (`pulumi config set --secret`). Never copied into DrConfig. */
    databasePassword: z.string().optional(),
    /** Fully qualified name of the peer stack (org/project/stack), for the split-brain guard and the switchover token. */
    peerStack: z.string().regex(/^[\w.-]+\/[\w.-]+\/[\w.-]+$/, { message: "is not a fully qualified stack name like acme/drstack/primary" }).optional(),
    /** Confirms a failover while the peer stack still reports itself primary (its region is lost). */
    emergencyFailover: boolish.default(false),
    /** Point-in-time restores, each into a new cluster `<cluster>-restore-<name>` (config/restore.ts). */
    restore: restoreSettings,
    /**
     * The region that is primary in normal operation (same in both stacks; never changes on a
     * promotion). It owns the PRIMARY failover record; the other region owns the DNS fence alarm.
     */
    homeRegion: awsRegion,
    /** Per stack: this stack's promotion (issue 11; scripts/README.md "Generations"). */
    promotion: z
        .strictObject({
            /**
             * Every promotion of either stack takes a generation above both stacks' current ones; the home
             * stack starts at 0. A fence marker is obeyed only by a cluster whose generation is below the marker's.
             */
            generation: count(0, FENCE_GENERATION_MAX).default(0),
            /** When an emergency failover was declared (UTC, to the second): written into the fence marker. */
            at: z.iso.datetime({ offset: false, precision: 0, error: "must be UTC to the second like 2026-11-24T11:00:00Z (date -u +%FT%TZ)" }).optional(),
        })
        .prefault({}),
    /**
     * Per stack: raise it to rebuild this region's cluster as a replica of the peer (failback): the
     * Cluster is replaced and bootstraps by recovery from the peer's archive replicated into this bucket.
     */
    rebuildGeneration: count(0, FENCE_GENERATION_MAX).default(0),
});


export type Settings = z.output<typeof schema>;
