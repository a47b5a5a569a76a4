// One region of the pair: everything a stack declares, composed from the config.
// The role decides the direction of replication: the primary replicates its backups to the
// peer; a standby does not (its bucket is the peer's destination). Promotion flips it.

import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { alertRuleGroups } from "./alertRules";
import { BackupBucket } from "./backupBucket";
import { BackupJobs } from "./backupJobs";
import { DrConfig, NAMESPACE } from "./config";
import { dashboardFor } from "./dashboard";
import { DatabaseRoles } from "./databaseRoles";
import { DrAlerts } from "./drAlerts";
import { FailoverRecord } from "./failoverRecord";
import { partitionOf, s3BucketArn } from "./naming";
import { PostgresOperators } from "./operators";
import { PostgresCluster } from "./postgresCluster";
import { CrossRegionReplication } from "./replication";

export interface DrRegionArgs {
    /** The validated stack configuration (components/config.ts). */
    config: DrConfig;
    /** Planned switchover: the demoted peer's token (components/promotion.ts). */
    promotionToken?: string;
}

export class DrRegion extends pulumi.ComponentResource {
    public readonly backupBucket: BackupBucket;
    /** Present while this stack is primary and replication is enabled. */
    public readonly replication?: CrossRegionReplication;
    public readonly operators?: PostgresOperators;
    public readonly postgres: PostgresCluster;
    /** Present when drstack:database.manageRoles is on and this stack is primary. */
    public readonly databaseRoles?: DatabaseRoles;
    public readonly backupJobs: BackupJobs;
    public readonly alerts: DrAlerts;
    /** Present when drstack:dns is configured. */
    public readonly failover?: FailoverRecord;

    constructor(name: string, args: DrRegionArgs, opts?: pulumi.ComponentResourceOptions) {
        super("drstack:region:DrRegion", name, args, opts);
        const c = args.config;
        const tags = { "drstack:prefix": c.prefix, "drstack:purpose": "postgresql-backups", "managed-by": "pulumi" };

        this.backupBucket = new BackupBucket(
            `${name}-backups`,
            {
                bucketName: c.names.bucket,
                keyAlias: c.names.keyAlias,
                noncurrentVersionDays: c.backupBucket.noncurrentVersionDays,
                abortIncompleteUploadDays: c.backupBucket.abortIncompleteUploadDays,
                longTermArchive: c.backupBucket.longTermArchive,
                objectLock: c.backupBucket.objectLock,
                protect: c.backupBucket.protect,
                tags,
            },
            { parent: this },
        );

        if (c.isPrimary && c.replication.enabled) {
            const partition = partitionOf(c.region);
            const identity = aws.getCallerIdentityOutput({}, { parent: this });
            this.replication = new CrossRegionReplication(
                `${name}-replication`,
                {
                    sourceBucket: this.backupBucket.bucketName,
                    sourceBucketArn: this.backupBucket.bucketArn,
                    sourceKeyArn: this.backupBucket.keyArn,
                    sourceVersioning: this.backupBucket.versioning,
                    sourceRegion: c.region,
                    destinationBucketArn: s3BucketArn(c.names.peerBucket, partition),
                    destinationRegion: c.peerRegion,
                    destinationKeyAlias: c.names.keyAlias,
                    accountId: identity.accountId,
                    partition,
                    replicationTimeControl: c.replication.replicationTimeControl,
                    rtcMinutes: c.replication.rtcMinutes,
                    storageClass: c.replication.storageClass,
                    objectLock: c.backupBucket.objectLock !== undefined,
                    tags,
                },
                { parent: this },
            );
        }

        const kube = c.kubernetes;
        const provider = new k8s.Provider(`${name}-kubernetes`, { context: kube.context, kubeconfig: kube.kubeconfig }, { parent: this });
        const inCluster = { parent: this, providers: [provider] };
        const namespace = kube.createNamespace
            ? new k8s.core.v1.Namespace(`${name}-namespace`, { metadata: { name: kube.namespace } }, { parent: this, provider }).metadata.name
            : pulumi.output(kube.namespace);

        if (kube.installOperators) {
            this.operators = new PostgresOperators(`${name}-operators`, {}, inCluster);
        }

        this.postgres = new PostgresCluster(
            `${name}-postgres`,
            {
                clusterName: c.names.cluster,
                peerClusterName: c.names.peerCluster,
                primaryClusterName: c.isPrimary ? c.names.cluster : c.names.peerCluster,
                bootstrap: c.isPrimary ? "initdb" : "recovery",
                namespace,
                bucketName: this.backupBucket.bucketName,
                bucketArn: this.backupBucket.bucketArn,
                keyArn: this.backupBucket.keyArn,
                region: c.region,
                archiveTimeout: c.wal.archiveTimeout,
                retentionDays: c.recoveryWindowDays,
                postgres: c.postgres,
                baseBackupSchedule: c.backups.baseBackupSchedule,
                oidcProviderArn: kube.oidcProviderArn,
                oidcIssuer: kube.oidcIssuer,
                streaming: c.streaming,
                promotionToken: args.promotionToken,
                tags,
            },
            { ...inCluster, dependsOn: this.operators ? [this.operators] : [] },
        );

        // Roles live in the database, so they are managed where it is writable: the primary.
        if (c.database.manageRoles && c.isPrimary) {
            this.databaseRoles = new DatabaseRoles(
                `${name}-roles`,
                {
                    host: c.database.host!,
                    port: c.database.port,
                    username: c.database.username,
                    password: new pulumi.Config(NAMESPACE).requireSecret("databasePassword"),
                    sslmode: c.database.sslmode,
                    monitoringRole: c.database.monitoringRole,
                    verificationRole: c.database.verificationRole,
                    namespace,
                    secretPrefix: c.names.cluster,
                },
                { ...inCluster, dependsOn: [this.postgres] },
            );
        }

        this.backupJobs = new BackupJobs(
            `${name}-backup-jobs`,
            {
                clusterName: c.names.cluster,
                sourceClusterName: verifiedCluster(c),
                logicalBackup: c.isPrimary,
                namespace,
                bucketName: this.backupBucket.bucketName,
                bucketArn: this.backupBucket.bucketArn,
                keyArn: this.backupBucket.keyArn,
                region: c.region,
                // Dump from a replica when there is one, to keep the load off the primary.
                databaseHost: `${c.names.cluster}-${c.postgres.instances > 1 ? "ro" : "rw"}.${kube.namespace}.svc`,
                databases: c.backups.databases,
                credentialsSecret: c.backups.credentialsSecret,
                // The primary's own archive answers to the data-corruption RPO; the replicated copy a
                // standby verifies is the log-shipping path, bounded by archive_timeout + upload + RTC.
                rpoSeconds: c.isPrimary ? c.rpo.dataCorruptionSeconds : c.wal.logShippingRegionLossBoundSeconds,
                logicalBackupSchedule: c.backups.logicalBackupSchedule,
                verificationSchedule: c.backups.verificationSchedule,
                image: c.backups.jobImage,
                scratchSize: c.backups.scratchSize,
                resources: c.backups.resources,
                verifySql: c.backups.verifySql,
                pushgatewayUrl: c.backups.pushgatewayUrl,
                oidcProviderArn: kube.oidcProviderArn,
                oidcIssuer: kube.oidcIssuer,
                tags,
            },
            { ...inCluster, dependsOn: [this.postgres] },
        );

        this.alerts = new DrAlerts(
            `${name}-alerts`,
            {
                clusterName: c.names.cluster,
                namespace,
                ruleGroups: alertRuleGroups(c).groups,
                ruleLabels: c.alerts.ruleLabels,
                region: c.region,
                notify: c.alerts.notify,
                replication: this.replication && {
                    sourceBucket: this.backupBucket.bucketName,
                    destinationBucket: c.names.peerBucket,
                    ruleId: this.replication.ruleId,
                    latencyThresholdSeconds: c.alerts.replicationLatencySeconds,
                },
                dashboard: c.alerts.grafanaDashboard ? dashboardFor(c) : undefined,
                tags,
            },
            inCluster,
        );

        if (c.dns) {
            this.failover = new FailoverRecord(
                `${name}-failover`,
                {
                    zoneId: c.dns.zoneId,
                    recordName: c.dns.recordName,
                    endpoint: c.dns.endpoint,
                    endpointType: c.dns.endpointType,
                    aliasZoneId: c.dns.aliasZoneId,
                    // The record type follows the role: promoting this stack makes its record PRIMARY.
                    failover: c.isPrimary ? "PRIMARY" : "SECONDARY",
                    setIdentifier: `${c.prefix}-${c.region}`,
                    healthCheck: c.dns.healthCheck,
                    alarmTopicArn: this.alerts.healthCheckTopic.arn,
                    tags,
                },
                { parent: this },
            );
        }

        this.registerOutputs({
            backupBucketName: this.backupBucket.bucketName,
            replicationRoleArn: this.replication?.roleArn,
            clusterName: c.names.cluster,
        });
    }
}

/** The cluster whose backups this region verifies: its own while primary, the peer's replicated copy while standby. */
export function verifiedCluster(c: DrConfig): string {
    return c.isPrimary ? c.names.cluster : c.names.peerCluster;
}
