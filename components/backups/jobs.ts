// The backup CronJobs: a daily logical backup and weekly restore verifications (logical and
// physical), running the very scripts in scripts/ (mounted from a ConfigMap built from those files),
// which the integration tests and the drill run too.
//
// The primary backs up and verifies its own backups. The standby verifies the *replicated* copy
// of the primary's backups in its own region's bucket: that is what a restore after a region loss
// would use. A promotion flips this with the role.

import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as fs from "fs";
import * as path from "path";
import { bucketKeyStatement, irsaTrustPolicy, listPrefixesStatement } from "../irsa";
import { BUCKET_PREFIXES, clusterObjectNames, COMPONENT_TYPES, JOB_LABEL_VALUES, JobKind, jobNames, LABELS } from "../../model/contract";
import { minIntervalSeconds } from "../../model/schedule";
import { JOB_IMAGE_UID, restrictedContainerSecurity, restrictedPodSecurity } from "../podSecurity";

export const SCRIPTS_DIR = path.resolve(__dirname, "..", "..", "scripts");
const MOUNT = "/opt/drstack/scripts";
/** Where the jobs' scratch emptyDir is mounted; TMPDIR points here. */
export const SCRATCH = "/scratch";

export interface BackupJobsArgs {
    /** This region's cluster: names the jobs, their service account and ConfigMap. */
    clusterName: string;
    /** The cluster whose backups these jobs take and verify: this one (primary) or the peer (standby). */
    sourceClusterName: string;
    /** Run the logical backup here (only where the database is the primary). */
    logicalBackup: boolean;
    /** Namespace of the jobs. */
    namespace: pulumi.Input<string>;
    /** This region's backup bucket and its KMS key. */
    bucketName: pulumi.Input<string>;
    bucketArn: pulumi.Input<string>;
    keyArn: pulumi.Input<string>;
    region: string;
    /** Host of the database the logical backup dumps (a CloudNativePG service). */
    databaseHost: string;
    /** Databases to dump. */
    databases: string[];
    /** Kubernetes Secret (basic-auth: username, password) the logical backup connects with. */
    credentialsSecret: string;
    /** The physical verification fails when the recovery point is older than this. */
    rpoSeconds: number;
    /** Kubernetes cron schedules (UTC). */
    logicalBackupSchedule: string;
    verificationSchedule: string;
    /** Pinned job image with PostgreSQL, barman-cli-cloud, the aws CLI, jq and curl (images/backup-jobs). */
    image: string;
    scratchSize: string;
    resources: Record<string, Record<string, string | undefined> | undefined>;
    /** Application checks for every restored copy. */
    verifySql?: string;
    /** Where the jobs publish results: drstack:backups.pushgatewayUrl, or the Pushgateway the stack deploys. */
    pushgatewayUrl: string;
    /** IRSA: the EKS cluster's OIDC provider. */
    oidcProviderArn: string;
    oidcIssuer: string;
    tags?: Record<string, string>;
}


export class BackupJobs extends pulumi.ComponentResource {
    public readonly scripts: k8s.core.v1.ConfigMap;
    public readonly role: aws.iam.Role;
    public readonly cronJobs: k8s.batch.v1.CronJob[] = [];

    constructor(name: string, args: BackupJobsArgs, opts?: pulumi.ComponentResourceOptions) {
        super(COMPONENT_TYPES.backupJobs, name, args, opts);
        const objects = clusterObjectNames(args.clusterName);
        const serviceAccountName = objects.jobsServiceAccount;
        const src = args.sourceClusterName;

        const files: Record<string, string> = {};
        for (const file of fs.readdirSync(SCRIPTS_DIR).filter((f) => f.endsWith(".sh")).sort()) {
            files[file] = fs.readFileSync(path.join(SCRIPTS_DIR, file), "utf8");
        }
        if (args.verifySql) {
            files["verify.sql"] = args.verifySql;
        }
        this.scripts = new k8s.core.v1.ConfigMap(
            `${name}-scripts`,
            { metadata: { name: objects.scriptsConfigMap, namespace: args.namespace, labels: labels("scripts") }, data: files },
            { parent: this },
        );

        this.role = new aws.iam.Role(
            `${name}-irsa`,
            {
                description: `Backup jobs of ${args.clusterName}: logical dumps and restore verification of ${src}`,
                assumeRolePolicy: pulumi.jsonStringify(irsaTrustPolicy(args.oidcProviderArn, args.oidcIssuer, args.namespace, serviceAccountName)),
                tags: args.tags,
            },
            { parent: this },
        );
        new aws.iam.RolePolicy(`${name}-irsa-permissions`, { role: this.role.id, policy: pulumi.jsonStringify(jobPermissions(args)) }, { parent: this });

        const serviceAccount = new k8s.core.v1.ServiceAccount(
            `${name}-service-account`,
            {
                metadata: {
                    name: serviceAccountName,
                    namespace: args.namespace,
                    labels: labels("service-account"),
                    annotations: { "eks.amazonaws.com/role-arn": this.role.arn },
                },
            },
            { parent: this },
        );

        // Each job gets exactly the variables scripts/README.md documents for its script.
        const base = {
            CLUSTER_NAME: src,
            S3_BUCKET: args.bucketName,
            AWS_DEFAULT_REGION: args.region,
            TMPDIR: SCRATCH,
            PUSHGATEWAY_URL: args.pushgatewayUrl,
            // Named explicitly, so a job's upload is under the bucket's key even if the bucket default changed;
            // the bucket policy accepts exactly this key (backupBucket.ts).
            S3_SSE_KMS_KEY_ID: args.keyArn,
        };
        const verification = {
            ...base,
            // Under this region's own cluster: results land at <prefix><verified cluster>/<kind>-latest.json,
            // and only this region's results replicate to the peer (model/replicationScope.ts).
            RESULTS_PREFIX: BUCKET_PREFIXES.verification(args.clusterName),
            ...(args.verifySql ? { VERIFY_SQL_FILE: `${MOUNT}/verify.sql` } : {}),
        };
        const logicalPrefix = BUCKET_PREFIXES.logical(src);
        const jobs = jobNames(args.clusterName);
        if (args.logicalBackup) {
            this.cronJobs.push(
                this.cronJob(name, "logical-backup", jobs.logicalBackup, args.logicalBackupSchedule, args, serviceAccount, {
                    ...base,
                    S3_PREFIX: logicalPrefix,
                    PGHOST: args.databaseHost,
                    PGPORT: "5432",
                    PGSSLMODE: "require",
                    BACKUP_DATABASES: args.databases.join(" "),
                }),
            );
        }
        this.cronJobs.push(
            this.cronJob(name, "verify-logical", jobs.verifyLogical, args.verificationSchedule, args, serviceAccount, { ...verification, S3_PREFIX: logicalPrefix }),
        );
        this.cronJobs.push(
            this.cronJob(name, "verify-physical", jobs.verifyPhysical, args.verificationSchedule, args, serviceAccount, {
                ...verification,
                BARMAN_DESTINATION: pulumi.interpolate`s3://${args.bucketName}/`,
                BARMAN_SERVER_NAME: src,
                RPO_SECONDS: String(args.rpoSeconds),
            }),
        );

        this.registerOutputs({ roleArn: this.role.arn, cronJobs: this.cronJobs.map((j) => j.metadata.name) });
    }

    private cronJob(
        name: string,
        kind: JobKind,
        jobName: string,
        schedule: string,
        args: BackupJobsArgs,
        serviceAccount: k8s.core.v1.ServiceAccount,
        env: Record<string, pulumi.Input<string>>,
    ): k8s.batch.v1.CronJob {
        const credentials =
            kind === "logical-backup"
                ? [
                      { name: "PGUSER", valueFrom: { secretKeyRef: { name: args.credentialsSecret, key: "username" } } },
                      { name: "PGPASSWORD", valueFrom: { secretKeyRef: { name: args.credentialsSecret, key: "password" } } },
                  ]
                : [];
        const jobLabels = labels(kind === "logical-backup" ? JOB_LABEL_VALUES.logicalBackup : JOB_LABEL_VALUES.restoreVerification, kind);
        return new k8s.batch.v1.CronJob(
            `${name}-${kind}`,
            {
                metadata: { name: jobName, namespace: args.namespace, labels: jobLabels },
                spec: scriptCronJobSpec({
                    schedule,
                    labels: jobLabels,
                    serviceAccountName: serviceAccount.metadata.name,
                    container: kind,
                    script: `${kind}.sh`,
                    image: args.image,
                    env: [...Object.entries(env).map(([k, value]) => ({ name: k, value })), ...credentials],
                    resources: args.resources,
                    scriptsConfigMap: this.scripts.metadata.name,
                    scratchSize: args.scratchSize,
                }),
            },
            { parent: this },
        );
    }
}

/** What a CronJob running one of scripts/*.sh needs; shared by the backup jobs and the fence check (components/fencing/). */
export interface ScriptCronJob {
    schedule: string;
    labels: Record<string, string>;
    serviceAccountName: pulumi.Input<string>;
    /** Container name. */
    container: string;
    /** File name in scripts/ (mounted from the scripts ConfigMap). */
    script: string;
    image: string;
    env: k8s.types.input.core.v1.EnvVar[];
    resources: k8s.types.input.core.v1.ResourceRequirements;
    /** The ConfigMap holding scripts/*.sh (BackupJobs.scripts). */
    scriptsConfigMap: pulumi.Input<string>;
    /** The emptyDir TMPDIR points at (the root filesystem is read-only). */
    scratchSize: string;
}

/** The spec of a CronJob running a script: non-root, read-only root, Forbid, deadlines below the interval. */
export function scriptCronJobSpec(j: ScriptCronJob): k8s.types.input.batch.v1.CronJobSpec {
    const interval = minIntervalSeconds(j.schedule);
    // A missed start is skipped rather than run late into the next slot; a run is cut off well
    // before the next one is due, so a hung job can never block the schedule.
    const startingDeadlineSeconds = Math.min(3600, Math.floor(interval / 4));
    const activeDeadlineSeconds = Math.min(6 * 3600, Math.floor(interval * 0.75) - startingDeadlineSeconds);
    return {
        schedule: j.schedule,
        timeZone: "Etc/UTC",
        concurrencyPolicy: "Forbid",
        startingDeadlineSeconds,
        // Keep failed runs around long enough to read them.
        successfulJobsHistoryLimit: 3,
        failedJobsHistoryLimit: 5,
        jobTemplate: {
            metadata: { labels: j.labels },
            spec: {
                backoffLimit: 2,
                activeDeadlineSeconds,
                template: {
                    metadata: { labels: j.labels },
                    spec: {
                        serviceAccountName: j.serviceAccountName,
                        restartPolicy: "Never",
                        securityContext: restrictedPodSecurity(JOB_IMAGE_UID, { fsGroup: true }),
                        containers: [
                            {
                                name: j.container,
                                image: j.image,
                                command: ["/bin/sh", `${MOUNT}/${j.script}`],
                                env: j.env,
                                resources: j.resources,
                                securityContext: restrictedContainerSecurity(),
                                volumeMounts: [
                                    { name: "scripts", mountPath: MOUNT, readOnly: true },
                                    { name: "scratch", mountPath: SCRATCH },
                                ],
                            },
                        ],
                        volumes: [
                            { name: "scripts", configMap: { name: j.scriptsConfigMap, defaultMode: 0o555 } },
                            { name: "scratch", emptyDir: { sizeLimit: j.scratchSize } },
                        ],
                    },
                },
            },
        },
    };
}

/** Labels of drstack's script CronJobs (the policy pack selects them by part-of). */
export function labels(job: string, kind?: string): Record<string, string> {
    return {
        [LABELS.partOf.key]: LABELS.partOf.value,
        [LABELS.component.key]: LABELS.component.value,
        [LABELS.job]: job,
        ...(kind ? { [LABELS.kind]: kind } : {}),
    };
}

/** Read the source's backups, write logical dumps (primary only) and verification results. */
export function jobPermissions(args: BackupJobsArgs): aws.iam.PolicyDocument {
    const src = args.sourceClusterName;
    const prefix = { logical: BUCKET_PREFIXES.logical(src), barman: BUCKET_PREFIXES.barman(src), verification: `${BUCKET_PREFIXES.verification(args.clusterName)}${src}/` };
    const statements: aws.iam.PolicyStatement[] = [
        listPrefixesStatement("ListSourceBackups", args.bucketArn, [prefix.logical, prefix.barman, prefix.verification]),
        {
            Sid: "ReadSourceBackups",
            Effect: "Allow",
            Action: "s3:GetObject",
            Resource: [pulumi.interpolate`${args.bucketArn}/${prefix.logical}*`, pulumi.interpolate`${args.bucketArn}/${prefix.barman}*`],
        },
        {
            Sid: "WriteVerificationResults",
            Effect: "Allow",
            Action: ["s3:PutObject", "s3:GetObject"],
            Resource: pulumi.interpolate`${args.bucketArn}/${prefix.verification}*`,
        },
        bucketKeyStatement(args.keyArn, args.region),
    ];
    if (args.logicalBackup) {
        statements.push({
            Sid: "WriteLogicalDumps",
            Effect: "Allow",
            Action: "s3:PutObject",
            Resource: pulumi.interpolate`${args.bucketArn}/${prefix.logical}*`,
        });
    }
    return { Version: "2012-10-17", Statement: statements };
}
