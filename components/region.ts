// One region of the pair: everything a stack declares, composed from the config by concern
// (storage, postgres, backups, monitoring, dns). Replication does not depend on the role: each
// stack always replicates its own cluster's prefixes into the peer's bucket (DESIGN.md "Static
// stability"), once the peer bucket exists; the replica cluster is declared once a base backup to
// restore exists (components/bootstrap.ts). Who is primary, and which cluster a region verifies,
// comes from config.topology (config/derive.ts), never recomputed here.

import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { DrConfig } from "../config";
import { awsTags, clusterObjectNames, COMPONENT_TYPES, configKey, NAMESPACE } from "../model/contract";
import { dnsFenceAlarmName, failoverSetIdentifier, partitionOf, restoreComponentName, s3BucketArn } from "../model/naming";
import { BackupJobs } from "./backups/jobs";
import { FailoverRecord } from "./dns/failoverRecord";
import { Fencing } from "./fencing/fencing";
import { alertRuleGroups } from "./monitoring/alertRules";
import { dashboardFor } from "./monitoring/dashboard";
import { DrAlerts } from "./monitoring/drAlerts";
import { PostgresOperators } from "./postgres/operators";
import { PostgresCluster } from "./postgres/cluster";
import { DatabaseGrants, jobRoleCredentials, JobRoleCredentials } from "./postgres/roles";
import { declareScrapeTargets, deployedPushgatewayUrl, ScrapeTargets } from "./monitoring/scrapeTargets";
import { RestoreCluster } from "./postgres/restore";
import { BackupBucket } from "./storage/backupBucket";
import { CrossRegionReplication } from "./storage/replication";
import { declareHeartbeat } from "./monitoring/heartbeat";

export interface DrRegionArgs {
    /** The validated stack configuration (config/). */
    config: DrConfig;
    /** Planned switchover: the demoted peer's token (components/postgres/promotion.ts). */
    promotionToken?: string;
    /** Declare replication: the peer bucket exists (components/bootstrap.ts peerBucketGate). */
    replicate: boolean;
    /** Declare the CloudNativePG cluster: a primary, or a replica with a base backup to restore (replicaBackupGate). */
    declareCluster: boolean;
}

export class DrRegion extends pulumi.ComponentResource {
    public readonly backupBucket: BackupBucket;
    /** Present once the peer bucket exists, unless drstack:replication.enabled is false; whatever the role. */
    public readonly replication?: CrossRegionReplication;
    public readonly operators?: PostgresOperators;
    /** Absent while a replica cluster waits for a base backup to restore. */
    public readonly postgres?: PostgresCluster;
    /** The jobs' roles: managed by CloudNativePG, passwords in basic-auth Secrets (both stacks). */
    public readonly jobRoles: JobRoleCredentials;
    /** Present when drstack:database.manageGrants is on and this stack is primary. */
    public readonly databaseGrants?: DatabaseGrants;
    /** PodMonitors (and the Pushgateway unless drstack:backups.pushgatewayUrl is set). */
    public readonly scrapeTargets: ScrapeTargets;
    public readonly backupJobs: BackupJobs;
    public readonly alerts: DrAlerts;
    /** Present when drstack:dns is configured. */
    public readonly failover?: FailoverRecord;
    /** One per drstack:restore entry, by restore name. */
    public readonly restores: Record<string, RestoreCluster> = {};
    /** The fence check job, and the fence marker while promoted by emergency failover. */
    public readonly fencing: Fencing;

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

        if (args.replicate) {
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
                    ownCluster: c.names.cluster,
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

        // Declared on both stacks: the Secret must exist where the jobs run, and the roles reach the
        // database from whichever cluster is primary (failover behaviour: components/postgres/roles.ts).
        this.jobRoles = jobRoleCredentials(
            `${name}-roles`,
            { clusterName: c.names.cluster, namespace, monitoringRole: c.database.monitoringRole, verificationRole: c.database.verificationRole },
            { parent: this, provider },
        );

        this.postgres = !args.declareCluster ? undefined : new PostgresCluster(
            `${name}-postgres`,
            {
                clusterName: c.names.cluster,
                peerClusterName: c.names.peerCluster,
                primaryClusterName: t.primary.cluster,
                bootstrap: t.bootstrap,
                rebuildGeneration: t.rebuildGeneration,
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
                managedRoles: this.jobRoles.managedRoles,
                tags,
            },
            { ...inCluster, dependsOn: this.operators ? [this.operators] : [] },
        );

        // Point-in-time restores read the archives through the ObjectStores the cluster component declares.
        for (const plan of c.restores) {
            this.restores[plan.name] = new RestoreCluster(
                restoreComponentName(name, plan.name),
                {
                    plan,
                    namespace,
                    bucketArn: this.backupBucket.bucketArn,
                    keyArn: this.backupBucket.keyArn,
                    region: c.region,
                    postgres: c.postgres,
                    oidcProviderArn: kube.oidcProviderArn,
                    oidcIssuer: kube.oidcIssuer,
                    tags,
                },
                { ...inCluster, dependsOn: this.postgres ? [this.postgres] : [] },
            );
        }

        // Grants need a connection to the writable database: the primary, and only when asked for.
        if (c.database.manageGrants && c.isPrimary) {
            this.databaseGrants = new DatabaseGrants(
                `${name}-grants`,
                {
                    host: c.database.host!,
                    port: c.database.port,
                    username: c.database.username,
                    password: new pulumi.Config(NAMESPACE).requireSecret("databasePassword"),
                    sslmode: c.database.sslmode,
                    verificationRole: c.database.verificationRole,
                    databases: c.backups.databases,
                },
                { ...inCluster, dependsOn: this.postgres ? [this.postgres] : [] },
            );
        }

        this.scrapeTargets = declareScrapeTargets(
            `${name}-scrape`,
            {
                clusterName: c.names.cluster,
                namespace,
                monitorLabels: c.alerts.monitorLabels ?? c.alerts.ruleLabels,
                deployPushgateway: c.backups.pushgatewayUrl === undefined,
            },
            { parent: this, provider },
        );

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
                pushgatewayUrl: c.backups.pushgatewayUrl ?? deployedPushgatewayUrl(c.names.cluster, kube.namespace),
                oidcProviderArn: kube.oidcProviderArn,
                oidcIssuer: kube.oidcIssuer,
                tags,
            },
            { ...inCluster, dependsOn: this.postgres ? [this.postgres] : [] },
        );

        this.fencing = new Fencing(
            `${name}-fencing`,
            {
                clusterName: c.names.cluster,
                peerClusterName: c.names.peerCluster,
                role: c.role,
                promotionGeneration: c.promotion.generation,
                // checks.ts: emergencyFailover only with role primary, and with promotion.at.
                marker:
                    c.isPrimary && c.emergencyFailover
                        ? { promotedAt: c.promotion.at!, reason: `emergency failover: ${c.peerRegion} declared lost (${configKey("emergencyFailover")})` }
                        : undefined,
                namespace,
                bucketName: c.names.bucket,
                bucketArn: this.backupBucket.bucketArn,
                keyArn: this.backupBucket.keyArn,
                region: c.region,
                image: c.backups.jobImage,
                scriptsConfigMap: this.backupJobs.scripts.metadata.name,
                pushgatewayUrl: c.backups.pushgatewayUrl ?? deployedPushgatewayUrl(c.names.cluster, kube.namespace),
                oidcProviderArn: kube.oidcProviderArn,
                oidcIssuer: kube.oidcIssuer,
                tags,
            },
            { ...inCluster, dependsOn: this.postgres ? [this.postgres] : [] },
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
                { parent: this, provider, dependsOn: this.postgres ? [this.postgres] : [] },
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
                    // Static: the home region's record is PRIMARY whatever the role; health checks decide (failoverRecord.ts).
                    failover: t.failoverType,
                    fence: t.isHome
                        ? { peer: { alarmName: dnsFenceAlarmName(c.prefix, c.peerRegion), region: c.peerRegion } }
                        : { own: { alarmName: dnsFenceAlarmName(c.prefix, c.region), cluster: c.names.cluster, raised: c.isPrimary } },
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
