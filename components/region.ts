// One region of the pair: everything a stack declares, composed from the config by concern
// (storage, postgres, backups, monitoring, dns). The role decides the direction of replication:
// the primary replicates its backups to the peer; a standby does not (its bucket is the peer's
// destination). Promotion flips it. Who is primary, and which cluster a region verifies, comes
// from config.topology (config/derive.ts), never recomputed here.

import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { DrConfig } from "../config";
import { awsTags, clusterObjectNames, COMPONENT_TYPES, NAMESPACE } from "../model/contract";
import { failoverSetIdentifier, partitionOf, s3BucketArn } from "../model/naming";
import { BackupJobs } from "./backups/jobs";
import { FailoverRecord } from "./dns/failoverRecord";
import { alertRuleGroups } from "./monitoring/alertRules";
import { dashboardFor } from "./monitoring/dashboard";
import { DrAlerts } from "./monitoring/drAlerts";
import { PostgresOperators } from "./postgres/operators";
import { PostgresCluster } from "./postgres/cluster";
import { DatabaseRoles } from "./postgres/roles";
import { BackupBucket } from "./storage/backupBucket";
import { CrossRegionReplication } from "./storage/replication";
import { declareHeartbeat } from "./monitoring/heartbeat";

export interface DrRegionArgs {
    /** The validated stack configuration (config/). */
    config: DrConfig;
    /** Planned switchover: the demoted peer's token (components/postgres/promotion.ts). */
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
        super(COMPONENT_TYPES.region, name, args, opts);
        const c = args.config;
        const t = c.topology;
        const tags = awsTags(c.prefix);

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
                primaryClusterName: t.primary.cluster,
                bootstrap: t.bootstrap,
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

        const services = clusterObjectNames(c.names.cluster);
        this.backupJobs = new BackupJobs(
            `${name}-backup-jobs`,
            {
                clusterName: c.names.cluster,
                sourceClusterName: t.verifiedCluster,
                logicalBackup: c.isPrimary,
                namespace,
                bucketName: this.backupBucket.bucketName,
                bucketArn: this.backupBucket.bucketArn,
                keyArn: this.backupBucket.keyArn,
                region: c.region,
                // Dump from a replica when there is one, to keep the load off the primary.
                databaseHost: `${c.postgres.instances > 1 ? services.roService : services.rwService}.${kube.namespace}.svc`,
                databases: c.backups.databases,
                credentialsSecret: c.backups.credentialsSecret,
                rpoSeconds: t.verificationRpoSeconds,
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

        // Only the primary commits; a promoted stack declares it, the demoted one drops it.
        if (c.isPrimary) {
            declareHeartbeat(
                `${name}-heartbeat`,
                {
                    clusterName: c.names.cluster,
                    namespace,
                    host: `${services.rwService}.${kube.namespace}.svc`,
                    database: c.postgres.database,
                    credentialsSecret: c.backups.credentialsSecret,
                    image: c.backups.jobImage,
                },
                { parent: this, provider, dependsOn: [this.postgres] },
            );
        }

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
                    failover: t.failoverType,
                    setIdentifier: failoverSetIdentifier(c.prefix, c.region),
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
