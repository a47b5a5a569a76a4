// The stack configuration: one schema, one parser, one set of derived settings.
// Everything that bounds data loss is computed here once (archive_timeout, retention day
// counts, names) and reused by every component, the policy check and the drill.
// Parsing is pure (a flat map in, a DrConfig out) so tools that run without the Pulumi
// engine read Pulumi.<stack>.yaml through the same rules; loadConfig() is the Pulumi adapter.

import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { DURATION_HELP, formatDuration, parseDuration, toDaysCeil } from "./duration";
import {
    backupBucketName,
    backupKeyAlias,
    clusterName,
    MAX_BUCKET_NAME_LENGTH,
} from "./naming";
import { cronProblem, CronFlavour, maxIntervalSeconds } from "./schedule";
import {
    deriveArchiveTimeout,
    logShippingRegionLossBoundSeconds,
    minimumArchivableRpoSeconds,
    pointInTimeRestoreBoundSeconds,
    RTC_REPLICATION_BOUND_SECONDS,
} from "./rpo";

/** The project's config namespace: keys are written `drstack:<key>` in Pulumi.<stack>.yaml. */
export const NAMESPACE = "drstack";

export const ROLES = ["primary", "standby"] as const;
export type Role = (typeof ROLES)[number];

export const OBJECT_LOCK_MODES = ["GOVERNANCE", "COMPLIANCE"] as const;
export const ARCHIVE_STORAGE_CLASSES = ["GLACIER_IR", "GLACIER", "DEEP_ARCHIVE"] as const;
export const REPLICA_STORAGE_CLASSES = ["STANDARD", "STANDARD_IA", "INTELLIGENT_TIERING"] as const;

/** Time a backup job may take beyond its schedule before its age alerts (jobs are bounded by activeDeadlineSeconds). */
export const BACKUP_GRACE_SECONDS = 3600;
/** Restore verification restores a whole database: allow it more. */
export const VERIFICATION_GRACE_SECONDS = 6 * 3600;

const REGION = /^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}$/;
const PREFIX = /^[a-z][a-z0-9-]{1,30}[a-z0-9]$/;
const ONE_DAY = 86400;

/** Raised for any invalid setting, before a single resource is declared. */
export class ConfigError extends Error {
    constructor(
        readonly stack: string,
        readonly problems: string[],
    ) {
        super(
            `Invalid drstack configuration for stack "${stack}" (nothing was deployed):\n` +
                problems.map((p) => `  - ${p}`).join("\n"),
        );
        this.name = "ConfigError";
    }
}

// ---- leaf schemas with messages that say what is allowed ----

function show(value: unknown): string {
    return typeof value === "string" ? JSON.stringify(value) : String(JSON.stringify(value) ?? value);
}

/** Message of a missing required value; describeIssue words it with the key and a hint. */
const REQUIRED = "is required";

/** A duration in seconds; `min` in seconds. Accepts only strings like "5m" (YAML numbers are ambiguous). */
function duration(minSeconds = 1) {
    return z.unknown().transform((value, ctx) => {
        if (value === undefined) {
            ctx.addIssue({ code: "custom", message: REQUIRED });
            return z.NEVER;
        }
        const seconds = typeof value === "string" ? parseDuration(value) : undefined;
        if (seconds === undefined) {
            ctx.addIssue({ code: "custom", message: `${show(value)} is not a duration; use ${DURATION_HELP}` });
            return z.NEVER;
        }
        if (seconds < minSeconds) {
            ctx.addIssue({ code: "custom", message: `${show(value)} is too short; the minimum is ${formatDuration(minSeconds)}` });
            return z.NEVER;
        }
        return seconds;
    });
}

function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
    return z.enum(values, {
        error: (issue) => (issue.input === undefined ? REQUIRED : `${show(issue.input)} is not allowed; allowed: ${values.join(", ")}`),
    });
}

/** Pulumi hands flat config values to programs as strings ("true"); nested YAML keeps booleans. */
const boolish = z.union([z.boolean(), z.enum(["true", "false"]).transform((v) => v === "true")], {
    error: (issue) => `${show(issue.input)} is not a boolean; use true or false`,
});

const awsRegion = z.string().regex(REGION, { message: "is not an AWS region name like us-east-1" });

/** A Kubernetes resource quantity such as 50Gi or 500m. */
const quantity = z.string().regex(/^\d+(\.\d+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E|m)?$/, {
    message: "is not a Kubernetes quantity like 50Gi, 512Mi or 500m",
});

/** A PostgreSQL size setting such as 10GB (or -1 for unlimited). */
const pgSize = z.string().regex(/^(-1|\d+(kB|MB|GB|TB))$/, { message: "is not a PostgreSQL size like 10GB, 512MB (or -1)" });

function count(min: number, max: number) {
    return z.unknown().transform((value, ctx) => {
        const n = typeof value === "string" && /^\d+$/.test(value) ? Number(value) : value;
        if (typeof n !== "number" || !Number.isInteger(n) || n < min || n > max) {
            ctx.addIssue({ code: "custom", message: value === undefined ? REQUIRED : `${show(value)} is not allowed; use a whole number from ${min} to ${max}` });
            return z.NEVER;
        }
        return n;
    });
}

function cron(flavour: CronFlavour) {
    return z.string().superRefine((expression, ctx) => {
        const problem = cronProblem(expression, flavour);
        if (problem) {
            ctx.addIssue({ code: "custom", message: problem });
        }
    });
}

const resources = z.strictObject({
    requests: z.strictObject({ cpu: quantity.optional(), memory: quantity.optional() }).optional(),
    limits: z.strictObject({ cpu: quantity.optional(), memory: quantity.optional() }).optional(),
});

/** PostgreSQL settings drstack derives or owns; setting them by hand would bypass the RPO arithmetic. */
export const RESERVED_PG_PARAMETERS = ["archive_timeout", "archive_mode", "archive_command", "wal_level", "max_slot_wal_keep_size"];

export const WAL_COMPRESSIONS = ["gzip", "bzip2", "snappy", "lz4", "xz", "zstd"] as const;
export const DATA_COMPRESSIONS = ["gzip", "bzip2", "snappy"] as const;

const targetsByDisruption = z.strictObject({
    region: duration(),
    "data-corruption": duration(),
});

// ---- the schema of the drstack namespace (plus aws:region) ----

const schema = z.strictObject({
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
            imageName: z.string().regex(/^[^\s:]+(:[\w.-]+)?(@sha256:[a-f0-9]{64})?$/).default("ghcr.io/cloudnative-pg/postgresql:16.6"),
            storage: z.strictObject({ size: quantity.default("50Gi"), storageClass: z.string().optional() }).prefault({}),
            walStorage: z.strictObject({ size: quantity.default("10Gi"), storageClass: z.string().optional() }).prefault({}),
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
            jobImage: z
                .string()
                .regex(/^[^\s:@]+(:(?!latest$)[\w.-]+)?(@sha256:[a-f0-9]{64})?$/, { message: "must be pinned: a tag other than latest, or a digest" })
                .refine((image) => /:[\w.-]+$|@sha256:/.test(image), { message: "must be pinned: a tag other than latest, or a digest" })
                .default("ghcr.io/acme/drstack-backup-jobs:1.0.0"),
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
        })
        .optional(),
    /** Route53 failover routing to this region's public endpoint. */
    dns: z
        .strictObject({
            /** Hosted zone of the failover record (same in both stacks). */
            zoneId: z.string().regex(/^Z[A-Z0-9]{1,32}$/, { message: "is not a Route53 hosted zone id like Z0123456789ABCDEFGHIJ" }),
            /** The name clients use (same in both stacks), e.g. db-api.acme.example.com. */
            recordName: z.string().regex(/^([a-z0-9-]+\.)+[a-z]{2,}\.?$/, { message: "is not a DNS name" }),
            /** This region's endpoint (per stack): a DNS name the record points at, and the health check probes. */
            endpoint: z.string().regex(/^([a-z0-9-]+\.)+[a-z]{2,}\.?$/, { message: "is not a DNS name" }),
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
            /** SNS subscriptions for CloudWatch alarms, e.g. [{ protocol: email, endpoint: oncall@acme.example.com }]. */
            notify: z.array(z.strictObject({ protocol: oneOf(["email", "https", "sqs", "lambda", "sms"] as const), endpoint: z.string().min(1) })).default([]),
            /** Where runbook_url links point (the README's alert runbooks). */
            runbookBaseUrl: z.string().regex(/^https?:\/\//, { message: "must be an http(s) URL" }).default("https://github.com/acme/drstack/blob/main/README.md"),
            /** Ship the Grafana dashboard ConfigMap (for the Grafana sidecar). */
            grafanaDashboard: boolish.default(true),
            /** Labels the Prometheus operator's ruleSelector matches, e.g. { release: kube-prometheus-stack }. */
            ruleLabels: z.record(z.string(), z.string()).default({}),
        })
        .prefault({}),
    /** Database roles managed with @pulumi/postgresql (needs a connection from where `pulumi up` runs). */
    database: z
        .strictObject({
            manageRoles: boolish.default(false),
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
});

type Parsed = z.output<typeof schema>;

// ---- the typed, derived configuration every component uses ----

export interface DrConfig {
    /** Stack name, for messages. */
    stack: string;
    role: Role;
    isPrimary: boolean;
    region: string;
    peerRegion: string;
    prefix: string;
    rpo: { regionSeconds: number; dataCorruptionSeconds: number };
    rto: { regionSeconds: number; dataCorruptionSeconds: number };
    recoveryWindowSeconds: number;
    recoveryWindowDays: number;
    walUploadAllowanceSeconds: number;
    wal: {
        /** archive_timeout in seconds, derived from the RPO. */
        archiveTimeoutSeconds: number;
        /** archive_timeout as PostgreSQL reads it, e.g. "270s". */
        archiveTimeout: string;
        /** Which RPO set it. */
        boundBy: "data-corruption" | "region";
        /** Worst-case loss of a point-in-time restore in-region. */
        pointInTimeRestoreBoundSeconds: number;
        /** Worst-case loss on region loss when the standby only receives WAL via the archive. */
        logShippingRegionLossBoundSeconds: number;
        /** True when the region RPO is below what log shipping can promise: streaming must carry it. */
        regionRpoNeedsStreaming: boolean;
    };
    names: {
        bucket: string;
        peerBucket: string;
        keyAlias: string;
        cluster: string;
        peerCluster: string;
    };
    backupBucket: {
        noncurrentVersionDays: number;
        abortIncompleteUploadDays: number;
        longTermArchive: { prefix: string; transitionDays: number; storageClass: string; expirationDays: number };
        objectLock?: { mode: "GOVERNANCE" | "COMPLIANCE"; days: number };
        protect: boolean;
    };
    replication: {
        enabled: boolean;
        replicationTimeControl: boolean;
        /** RTC threshold in minutes: fixed at 15 by S3. */
        rtcMinutes: number;
        storageClass: string;
    };
    kubernetes: {
        context?: string;
        kubeconfig?: string;
        namespace: string;
        createNamespace: boolean;
        oidcProviderArn: string;
        /** The OIDC issuer host/path (the ARN's part after `oidc-provider/`), used in IRSA trust conditions. */
        oidcIssuer: string;
        installOperators: boolean;
    };
    postgres: {
        instances: number;
        imageName: string;
        storage: { size: string; storageClass?: string };
        walStorage: { size: string; storageClass?: string };
        resources: { requests?: { cpu?: string; memory?: string }; limits?: { cpu?: string; memory?: string } };
        walLevel: "replica" | "logical";
        maxSlotWalKeepSize: string;
        walCompression: string;
        walMaxParallel: number;
        backupCompression: string;
        backupJobs: number;
        parameters: Record<string, string>;
        database: string;
    };
    /** Streaming from the peer's primary, when configured (otherwise WAL comes from the archive only). */
    streaming?: { host: string; port: number; tlsSecretName: string; sslmode: string };
    backups: {
        jobImage: string;
        databases: string[];
        scratchSize: string;
        resources: { requests?: { cpu?: string; memory?: string }; limits?: { cpu?: string; memory?: string } };
        verifySql?: string;
        pushgatewayUrl?: string;
        credentialsSecret: string;
        baseBackupSchedule: string;
        baseBackupMaxIntervalSeconds: number;
        logicalBackupSchedule: string;
        logicalBackupMaxIntervalSeconds: number;
        verificationSchedule: string;
        verificationMaxIntervalSeconds: number;
    };
    database: {
        manageRoles: boolean;
        host?: string;
        port: number;
        username: string;
        sslmode: string;
        monitoringRole: string;
        verificationRole: string;
    };
    dns?: {
        zoneId: string;
        recordName: string;
        endpoint: string;
        endpointType: "cname" | "alias";
        aliasZoneId?: string;
        healthCheck: { protocol: string; path: string; port: number; interval: number; failureThreshold: number; regions: string[] };
    };
    alerts: {
        notify: { protocol: string; endpoint: string }[];
        runbookBaseUrl: string;
        grafanaDashboard: boolean;
        ruleLabels: Record<string, string>;
        /** Alert when unarchived WAL is older than this: the point-in-time restore bound (at most the RPO). */
        walArchiveAgeSeconds: number;
        /** Alert when the replica cluster lags more than the region RPO. */
        replicaLagSeconds: number;
        /** Alert when the newest base backup is older than its schedule allows (+ grace). */
        baseBackupMaxAgeSeconds: number;
        /** Alert when the logical backup CronJob has not succeeded for this long. */
        logicalBackupMaxAgeSeconds: number;
        /** Alert when restore verification has not succeeded for this long. */
        verificationMaxAgeSeconds: number;
        /** S3 replication latency above which objects miss the RTC SLA. */
        replicationLatencySeconds: number;
    };
    /** The peer stack's fully qualified name, when configured. */
    peerStack?: string;
    emergencyFailover: boolean;
}

/** Tells whether a config key (e.g. "drstack:databasePassword") holds a Pulumi secret. */
export type SecretKeyPredicate = (key: string) => boolean;

/** Raw flat config as Pulumi hands it to a program: `namespace:key` -> string (objects as JSON). */
export type FlatConfig = Record<string, string>;

function keyName(path: PropertyKey[]): string {
    if (path.length === 0) {
        return `${NAMESPACE}`;
    }
    const [head, ...rest] = path.map(String);
    return [`${NAMESPACE}:${head}`, ...rest].join(".");
}

/** What to write for a missing required key. */
const REQUIRED_HINTS: Record<string, string> = {
    role: "primary or standby",
    peerRegion: "the other stack's region, e.g. us-west-2",
    prefix: "a short name for every resource, e.g. acme-orders",
    rpo: "per disruption type, e.g. { region: 5m, data-corruption: 5m }",
    rto: "per disruption type, e.g. { region: 30m, data-corruption: 1h }",
};

function describeIssue(issue: z.core.$ZodIssue & { input?: unknown }): string {
    const key = keyName(issue.path);
    if (issue.message === REQUIRED || (issue.code === "invalid_type" && issue.input === undefined)) {
        const hint = issue.path.length === 1 ? REQUIRED_HINTS[String(issue.path[0])] : undefined;
        return `${key} is required${hint ? `: ${hint}` : ""}`;
    }
    if (issue.code === "unrecognized_keys") {
        const where = issue.path.length === 0 ? NAMESPACE : key;
        const names = issue.keys.map((k) => (issue.path.length === 0 ? `${NAMESPACE}:${k}` : `${key}.${k}`));
        return `${names.join(", ")}: unknown setting${names.length > 1 ? "s" : ""} in ${where} (check the spelling; see README "Configuration")`;
    }
    if (issue.code === "invalid_format" || (issue.code === "invalid_type" && issue.input !== undefined)) {
        return `${key}: ${show(issue.input)} ${issue.message.startsWith("Invalid") ? `is invalid (${issue.message})` : issue.message}`;
    }
    return `${key}: ${issue.message}`;
}

/** Reads the flat map into the nested shape the schema expects. */
function unflatten(flat: FlatConfig): { values: Record<string, unknown>; region: string | undefined } {
    const values: Record<string, unknown> = {};
    for (const [fullKey, text] of Object.entries(flat)) {
        const [namespace, key] = splitKey(fullKey);
        if (namespace !== NAMESPACE) {
            continue;
        }
        values[key] = decodeValue(text);
    }
    return { values, region: flat["aws:region"] };
}

function splitKey(fullKey: string): [string, string] {
    const i = fullKey.indexOf(":");
    return i < 0 ? ["", fullKey] : [fullKey.slice(0, i), fullKey.slice(i + 1)];
}

function decodeValue(text: string): unknown {
    const t = text.trim();
    if (t.startsWith("{") || t.startsWith("[")) {
        try {
            return JSON.parse(t);
        } catch {
            return text;
        }
    }
    return text;
}

/** Cross-setting rules the schema alone cannot express. */
function consistencyProblems(c: Parsed, region: string, isSecret: SecretKeyPredicate): string[] {
    const problems: string[] = [];
    const k = (key: string) => `${NAMESPACE}:${key}`;
    const window = c.recoveryWindow;
    if (c.peerRegion === region) {
        problems.push(`${k("peerRegion")}: "${c.peerRegion}" is this stack's own region (aws:region); the peer must be a different region`);
    }
    for (const disruption of ["region", "data-corruption"] as const) {
        const rpo = c.rpo[disruption];
        if (rpo > window) {
            problems.push(
                `${k("rpo")}.${disruption}: ${formatDuration(rpo)} is larger than ${k("recoveryWindow")} ${formatDuration(window)}; ` +
                    "backups would be deleted before the RPO is reached: raise the recovery window or lower the RPO",
            );
        }
    }
    const minimum = minimumArchivableRpoSeconds(c.walUploadAllowance);
    if (c.rpo["data-corruption"] < minimum) {
        problems.push(
            `${k("rpo")}.data-corruption: ${formatDuration(c.rpo["data-corruption"])} cannot be met by WAL archiving; ` +
                `the minimum is ${formatDuration(minimum)} (archive_timeout >= 10s plus ${k("walUploadAllowance")} ${formatDuration(c.walUploadAllowance)})`,
        );
    }
    const bucket = c.backupBucket;
    if (bucket.noncurrentVersionRetention !== undefined && bucket.noncurrentVersionRetention < window) {
        problems.push(
            `${k("backupBucket")}.noncurrentVersionRetention: ${formatDuration(bucket.noncurrentVersionRetention)} is shorter than ` +
                `${k("recoveryWindow")} ${formatDuration(window)}; overwritten or deleted backups must stay restorable for the whole window`,
        );
    }
    const archive = bucket.longTermArchive;
    if (archive.retention <= archive.transitionAfter) {
        problems.push(
            `${k("backupBucket")}.longTermArchive.retention: ${formatDuration(archive.retention)} must be longer than ` +
                `transitionAfter ${formatDuration(archive.transitionAfter)}`,
        );
    }
    if (archive.retention < window) {
        problems.push(
            `${k("backupBucket")}.longTermArchive.retention: ${formatDuration(archive.retention)} is shorter than ${k("recoveryWindow")} ${formatDuration(window)}`,
        );
    }
    for (const name of Object.keys(c.postgres.parameters)) {
        if (RESERVED_PG_PARAMETERS.includes(name)) {
            problems.push(
                `${k("postgres")}.parameters.${name}: drstack sets ${name} itself (archive_timeout comes from ${k("rpo")}); remove it here`,
            );
        }
    }
    const baseInterval = maxIntervalSeconds(c.backups.baseBackupSchedule);
    if (baseInterval > window) {
        problems.push(
            `${k("backups")}.baseBackupSchedule: "${c.backups.baseBackupSchedule}" leaves up to ${formatDuration(baseInterval)} between base backups, ` +
                `more than ${k("recoveryWindow")} ${formatDuration(window)}; point-in-time restore could not reach back that far`,
        );
    }
    if (c.database.manageRoles) {
        if (c.database.host === undefined) {
            problems.push(`${k("database")}.host is required when ${k("database")}.manageRoles is true (the primary's address, reachable from where pulumi up runs)`);
        }
        if (c.databasePassword === undefined) {
            problems.push(`${k("databasePassword")} is required when ${k("database")}.manageRoles is true: pulumi config set --secret ${k("databasePassword")} <password>`);
        }
    }
    if (c.databasePassword !== undefined && !isSecret(k("databasePassword"))) {
        problems.push(
            `${k("databasePassword")} is stored in plaintext; remove it and set it again with: pulumi config set --secret ${k("databasePassword")} <password>`,
        );
    }
    if (c.dns?.endpointType === "alias" && c.dns.aliasZoneId === undefined) {
        problems.push(`${k("dns")}.aliasZoneId is required when ${k("dns")}.endpointType is alias (the load balancer's canonical hosted zone id)`);
    }
    if (c.emergencyFailover && c.role !== "primary") {
        problems.push(`${k("emergencyFailover")}: true only makes sense with ${k("role")}: primary (it confirms promoting this stack while its peer still reports primary)`);
    }
    for (const r of [region, c.peerRegion]) {
        const name = backupBucketName(c.prefix, r);
        if (name.length > MAX_BUCKET_NAME_LENGTH) {
            problems.push(
                `${k("prefix")}: "${c.prefix}" makes the bucket name "${name}" ${name.length} characters long; S3 allows ${MAX_BUCKET_NAME_LENGTH}: shorten the prefix`,
            );
        }
    }
    return problems;
}

/** Parses and validates a stack's flat config; throws ConfigError listing every problem. */
export function parseConfig(flat: FlatConfig, stack: string, isSecret: SecretKeyPredicate = () => false): DrConfig {
    const { values, region } = unflatten(flat);
    const problems: string[] = [];
    if (region === undefined || region === "") {
        problems.push("aws:region is required (the region this stack deploys to), e.g. `pulumi config set aws:region us-east-1`");
    } else if (!REGION.test(region)) {
        problems.push(`aws:region: ${show(region)} is not an AWS region name like us-east-1`);
    }
    const result = schema.safeParse(values, { reportInput: true });
    if (!result.success) {
        problems.push(...result.error.issues.map(describeIssue));
    }
    if (problems.length > 0 || !result.success) {
        throw new ConfigError(stack, problems);
    }
    const c = result.data;
    problems.push(...consistencyProblems(c, region!, isSecret));
    if (problems.length > 0) {
        throw new ConfigError(stack, problems);
    }
    return derive(c, region!, stack);
}

function derive(c: Parsed, region: string, stack: string): DrConfig {
    const rpo = { regionSeconds: c.rpo.region, dataCorruptionSeconds: c.rpo["data-corruption"] };
    const { archiveTimeoutSeconds, boundBy } = deriveArchiveTimeout(rpo, c.walUploadAllowance);
    const logShipping = logShippingRegionLossBoundSeconds(archiveTimeoutSeconds, c.walUploadAllowance);
    const archive = c.backupBucket.longTermArchive;
    const lock = c.backupBucket.objectLock;
    return {
        stack,
        role: c.role,
        isPrimary: c.role === "primary",
        region,
        peerRegion: c.peerRegion,
        prefix: c.prefix,
        rpo,
        rto: { regionSeconds: c.rto.region, dataCorruptionSeconds: c.rto["data-corruption"] },
        recoveryWindowSeconds: c.recoveryWindow,
        recoveryWindowDays: toDaysCeil(c.recoveryWindow),
        walUploadAllowanceSeconds: c.walUploadAllowance,
        wal: {
            archiveTimeoutSeconds,
            archiveTimeout: `${archiveTimeoutSeconds}s`,
            boundBy,
            pointInTimeRestoreBoundSeconds: pointInTimeRestoreBoundSeconds(archiveTimeoutSeconds, c.walUploadAllowance),
            logShippingRegionLossBoundSeconds: logShipping,
            regionRpoNeedsStreaming: logShipping > rpo.regionSeconds,
        },
        names: {
            bucket: backupBucketName(c.prefix, region),
            peerBucket: backupBucketName(c.prefix, c.peerRegion),
            keyAlias: backupKeyAlias(c.prefix),
            cluster: clusterName(c.prefix, region),
            peerCluster: clusterName(c.prefix, c.peerRegion),
        },
        backupBucket: {
            noncurrentVersionDays: toDaysCeil(c.backupBucket.noncurrentVersionRetention ?? c.recoveryWindow),
            abortIncompleteUploadDays: toDaysCeil(c.backupBucket.abortIncompleteUploadsAfter),
            longTermArchive: {
                prefix: archive.prefix,
                transitionDays: toDaysCeil(archive.transitionAfter),
                storageClass: archive.storageClass,
                expirationDays: toDaysCeil(archive.retention),
            },
            objectLock: lock ? { mode: lock.mode, days: toDaysCeil(lock.retention) } : undefined,
            protect: c.backupBucket.protect,
        },
        replication: {
            enabled: c.replication.enabled,
            replicationTimeControl: c.replication.replicationTimeControl,
            rtcMinutes: RTC_REPLICATION_BOUND_SECONDS / 60,
            storageClass: c.replication.storageClass,
        },
        kubernetes: {
            ...c.kubernetes,
            oidcIssuer: c.kubernetes.oidcProviderArn.split(":oidc-provider/")[1],
        },
        postgres: c.postgres,
        backups: {
            ...c.backups,
            databases: c.backups.databases ?? [c.postgres.database],
            credentialsSecret: c.backups.credentialsSecret ?? `${clusterName(c.prefix, region)}-verification-credentials`,
            baseBackupMaxIntervalSeconds: maxIntervalSeconds(c.backups.baseBackupSchedule),
            logicalBackupMaxIntervalSeconds: maxIntervalSeconds(c.backups.logicalBackupSchedule),
            verificationMaxIntervalSeconds: maxIntervalSeconds(c.backups.verificationSchedule),
        },
        // The password itself is read as a Pulumi secret where it is used, never copied here:
        // this object becomes component inputs, which are stored in the state.
        database: {
            manageRoles: c.database.manageRoles,
            host: c.database.host,
            port: c.database.port,
            username: c.database.username,
            sslmode: c.database.sslmode,
            monitoringRole: c.database.monitoringRole,
            verificationRole: c.database.verificationRole,
        },
        streaming: c.streaming,
        dns: c.dns,
        alerts: {
            ...c.alerts,
            walArchiveAgeSeconds: pointInTimeRestoreBoundSeconds(archiveTimeoutSeconds, c.walUploadAllowance),
            replicaLagSeconds: rpo.regionSeconds,
            baseBackupMaxAgeSeconds: maxIntervalSeconds(c.backups.baseBackupSchedule) + BACKUP_GRACE_SECONDS,
            logicalBackupMaxAgeSeconds: maxIntervalSeconds(c.backups.logicalBackupSchedule) + BACKUP_GRACE_SECONDS,
            verificationMaxAgeSeconds: maxIntervalSeconds(c.backups.verificationSchedule) + VERIFICATION_GRACE_SECONDS,
            replicationLatencySeconds: RTC_REPLICATION_BOUND_SECONDS,
        },
        peerStack: c.peerStack,
        emergencyFailover: c.emergencyFailover,
    };
}

/** Reads and validates the running stack's config (the Pulumi adapter of parseConfig). */
export function loadConfig(): DrConfig {
    // isConfigSecret is not in the SDK's typings, but it is how the SDK itself tells secret keys.
    const runtimeConfig = require("@pulumi/pulumi/runtime/config") as { isConfigSecret?: SecretKeyPredicate };
    const isSecret: SecretKeyPredicate = (key) => runtimeConfig.isConfigSecret?.(key) ?? false;
    return parseConfig(pulumi.runtime.allConfig(), pulumi.getStack(), isSecret);
}
