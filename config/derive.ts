// The derivation: everything computed from the settings, once. archive_timeout and the RPO
// bounds come from model/rpo.ts, each schedule's interval is computed once here, retention
// durations become lifecycle day counts, and the topology (who is primary, which cluster this
// region verifies, which bucket holds what) is worked out here so no consumer re-derives it.
// DrConfig is the schema's output type with these derived parts: nothing restates a setting.

import { LOGICAL_BACKUP_SLOW_SECONDS } from "../model/alertCatalog";
import { clusterObjectNames } from "../model/contract";
import { toDaysCeil } from "../model/duration";
import { backupBucketName, backupKeyAlias, clusterName } from "../model/naming";
import {
    AlertTiming,
    archiveBacklogTiming,
    ArchiveTimeoutDerivation,
    deriveArchiveTimeout,
    detectWithin,
    HEARTBEAT_INTERVAL_SECONDS,
    logShippingRegionLossBoundSeconds,
    pointInTimeRestoreBoundSeconds,
    RpoTargets,
    RTC_REPLICATION_BOUND_SECONDS,
} from "../model/rpo";
import { maxIntervalSeconds } from "../model/schedule";
import { RestorePlan, restorePlans } from "./restore";
import { Role, Settings } from "./schema";

/** Time a backup job may take beyond its schedule before its age alerts (jobs are bounded by activeDeadlineSeconds). */
export const BACKUP_GRACE_SECONDS = 3600;
/** Restore verification restores a whole database: allow it more. */
export const VERIFICATION_GRACE_SECONDS = 6 * 3600;
/** `for:` of the WAL archive age alert: one missed scrape or a slow upload is not an incident. */
export const WAL_ARCHIVE_STALE_FOR_SECONDS = 60;
/** `for:` of the replica lag alert: rides out a burst the standby catches up with. */
export const REPLICA_LAG_FOR_SECONDS = 120;

/**
 * Who is who in the pair, from this stack's point of view. A standby verifies the primary's
 * backups as replicated into its own bucket (what a restore after a region loss would use),
 * so both regions' verification jobs label their results with the primary's cluster.
 */
export interface Topology {
    role: Role;
    isPrimary: boolean;
    /** This region is drstack:homeRegion: primary in normal operation. Never follows the role. */
    isHome: boolean;
    primary: { region: string; cluster: string; bucket: string };
    standby: { region: string; cluster: string; bucket: string };
    /** The cluster whose backups this region's jobs verify (label `cluster` of their metrics). */
    verifiedCluster: string;
    /** The bucket those backups are read from: this region's own (the standby's holds the replicated copy). */
    verifiedBucket: string;
    /** Where S3 replication runs from (its CloudWatch metrics live in the source region). */
    replicationSource: { region: string; bucket: string };
    /** The Route53 failover record type of this region: static, the home region's is PRIMARY (never follows the role). */
    failoverType: "PRIMARY" | "SECONDARY";
    /**
     * How CloudNativePG bootstraps this region's cluster: a pure function of (isHome,
     * drstack:rebuildGeneration), never of the role, so a promotion never changes it. Generation 0:
     * the home region initdb, the other recovers from the home's replicated archive; a rebuild
     * (generation >= 1) always recovers from the peer's archive replicated into this bucket.
     */
    bootstrap: "initdb" | "recovery";
    /** drstack:rebuildGeneration: raising it replaces this region's Cluster (components/postgres/cluster.ts). */
    rebuildGeneration: number;
    /** The physical verification fails when the recovery point is older than this: the primary's own
     * archive answers to the data-corruption RPO, the replicated copy to the log-shipping bound; plus
     * the heartbeat interval, because the recovery point is the newest commit and on an idle
     * database that is the newest heartbeat (model/rpo.ts HEARTBEAT_INTERVAL_SECONDS). */
    verificationRpoSeconds: number;
}

interface Derived {
    /** Stack name, for messages. */
    stack: string;
    region: string;
    isPrimary: boolean;
    topology: Topology;
    rpo: RpoTargets;
    rto: RpoTargets;
    recoveryWindowSeconds: number;
    recoveryWindowDays: number;
    walUploadAllowanceSeconds: number;
    wal: {
        archiveTimeoutSeconds: number;
        /** archive_timeout as PostgreSQL reads it, e.g. "270s". */
        archiveTimeout: string;
        boundBy: ArchiveTimeoutDerivation["boundBy"];
        /** Worst-case loss of a point-in-time restore in-region. */
        pointInTimeRestoreBoundSeconds: number;
        /** Worst-case loss on region loss when the standby only receives WAL via the archive. */
        logShippingRegionLossBoundSeconds: number;
        /** True when the region RPO is below what log shipping can promise: streaming must carry it. */
        regionRpoNeedsStreaming: boolean;
    };
    names: { bucket: string; peerBucket: string; keyAlias: string; cluster: string; peerCluster: string };
    /** drstack:restore, each derived into what its restored cluster declares (config/restore.ts). */
    restores: RestorePlan[];
    backupBucket: {
        noncurrentVersionDays: number;
        abortIncompleteUploadDays: number;
        longTermArchive: { prefix: string; transitionDays: number; storageClass: string; expirationDays: number };
        objectLock?: { mode: "GOVERNANCE" | "COMPLIANCE"; days: number };
        protect: boolean;
    };
    replication: Settings["replication"] & {
        /** RTC threshold in minutes: fixed at 15 by S3. */
        rtcMinutes: number;
    };
    kubernetes: Settings["kubernetes"] & {
        /** The OIDC issuer host/path (the ARN's part after `oidc-provider/`), used in IRSA trust conditions. */
        oidcIssuer: string;
    };
    backups: Omit<Settings["backups"], "databases" | "credentialsSecret"> & {
        databases: string[];
        credentialsSecret: string;
        baseBackupMaxIntervalSeconds: number;
        logicalBackupMaxIntervalSeconds: number;
        verificationMaxIntervalSeconds: number;
    };
    alerts: Settings["alerts"] & {
        /** Alert when WAL is ready and nothing was archived for longer than this (threshold + for: = the PITR bound, at most the RPO). */
        walArchiveAgeSeconds: number;
        walArchiveAge: AlertTiming;
        /** Alert when the expected wait of a ready segment exceeds walUploadAllowance (model/rpo.ts archiveBacklogTiming). */
        archiveBacklog: AlertTiming;
        /** Alert when the replica cluster lags so that threshold + for: reach the region RPO. */
        replicaLagSeconds: number;
        replicaLag: AlertTiming;
        baseBackupMaxAgeSeconds: number;
        logicalBackupMaxAgeSeconds: number;
        verificationMaxAgeSeconds: number;
        /** S3 replication latency above which objects miss the RTC SLA. */
        replicationLatencySeconds: number;
        /** A logical backup run still active after this is slow (seed 004: an upload over 20 minutes). */
        logicalBackupSlowSeconds: number;
    };
}

/**
 * The configuration every component reads: the parsed settings (z.output of the schema) with the
 * derived parts. The password is left out: it is read as a Pulumi secret where it is used, because
 * this object becomes component inputs, which are stored in the state.
 */
export type DrConfig = Omit<Settings, keyof Derived | "recoveryWindow" | "walUploadAllowance" | "databasePassword" | "restore"> & Derived;

function topologyOf(c: Settings, region: string, names: Derived["names"], wal: Derived["wal"]): Topology {
    const isPrimary = c.role === "primary";
    const isHome = c.homeRegion === region;
    const self = { region, cluster: names.cluster, bucket: names.bucket };
    const peer = { region: c.peerRegion, cluster: names.peerCluster, bucket: names.peerBucket };
    const [primary, standby] = isPrimary ? [self, peer] : [peer, self];
    return {
        role: c.role,
        isPrimary,
        isHome,
        primary,
        standby,
        verifiedCluster: primary.cluster,
        verifiedBucket: self.bucket,
        // Replication is static (DESIGN.md): every stack replicates its own bucket into the peer's, whatever the role.
        replicationSource: { region, bucket: backupBucketName(c.prefix, region) },
        failoverType: isHome ? "PRIMARY" : "SECONDARY",
        bootstrap: isHome && c.rebuildGeneration === 0 ? "initdb" : "recovery",
        rebuildGeneration: c.rebuildGeneration,
        verificationRpoSeconds: (isPrimary ? c.rpo["data-corruption"] : wal.logShippingRegionLossBoundSeconds) + HEARTBEAT_INTERVAL_SECONDS,
    };
}

/** The longest gap between runs of each schedule, computed once per parse (checks and derivation share it). */
export interface ScheduleIntervals {
    baseBackup: number;
    logicalBackup: number;
    verification: number;
}

export function scheduleIntervals(c: Settings): ScheduleIntervals {
    return {
        baseBackup: maxIntervalSeconds(c.backups.baseBackupSchedule),
        logicalBackup: maxIntervalSeconds(c.backups.logicalBackupSchedule),
        verification: maxIntervalSeconds(c.backups.verificationSchedule),
    };
}

export function derive(c: Settings, region: string, stack: string, interval: ScheduleIntervals = scheduleIntervals(c)): DrConfig {
    const rpo = { regionSeconds: c.rpo.region, dataCorruptionSeconds: c.rpo["data-corruption"] };
    const { archiveTimeoutSeconds, boundBy } = deriveArchiveTimeout(rpo, c.walUploadAllowance);
    const logShipping = logShippingRegionLossBoundSeconds(archiveTimeoutSeconds, c.walUploadAllowance);
    const pitrBound = pointInTimeRestoreBoundSeconds(archiveTimeoutSeconds, c.walUploadAllowance);
    const wal: Derived["wal"] = {
        archiveTimeoutSeconds,
        archiveTimeout: `${archiveTimeoutSeconds}s`,
        boundBy,
        pointInTimeRestoreBoundSeconds: pitrBound,
        logShippingRegionLossBoundSeconds: logShipping,
        regionRpoNeedsStreaming: logShipping > rpo.regionSeconds,
    };
    const names = {
        bucket: backupBucketName(c.prefix, region),
        peerBucket: backupBucketName(c.prefix, c.peerRegion),
        keyAlias: backupKeyAlias(c.prefix),
        cluster: clusterName(c.prefix, region),
        peerCluster: clusterName(c.prefix, c.peerRegion),
    };
    const walArchiveAge = detectWithin(pitrBound, WAL_ARCHIVE_STALE_FOR_SECONDS);
    const replicaLag = detectWithin(rpo.regionSeconds, REPLICA_LAG_FOR_SECONDS);
    const archive = c.backupBucket.longTermArchive;
    const lock = c.backupBucket.objectLock;
    const { recoveryWindow, walUploadAllowance, databasePassword: _password, restore, ...settings } = c;
    return {
        ...settings,
        stack,
        region,
        isPrimary: c.role === "primary",
        topology: topologyOf(c, region, names, wal),
        rpo,
        rto: { regionSeconds: c.rto.region, dataCorruptionSeconds: c.rto["data-corruption"] },
        recoveryWindowSeconds: recoveryWindow,
        recoveryWindowDays: toDaysCeil(recoveryWindow),
        walUploadAllowanceSeconds: walUploadAllowance,
        wal,
        names,
        restores: restorePlans(restore, names),
        backupBucket: {
            noncurrentVersionDays: toDaysCeil(c.backupBucket.noncurrentVersionRetention ?? recoveryWindow),
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
        replication: { ...c.replication, rtcMinutes: RTC_REPLICATION_BOUND_SECONDS / 60 },
        kubernetes: { ...c.kubernetes, oidcIssuer: c.kubernetes.oidcProviderArn.split(":oidc-provider/")[1] },
        backups: {
            ...c.backups,
            databases: c.backups.databases ?? [c.postgres.database],
            credentialsSecret: c.backups.credentialsSecret ?? clusterObjectNames(names.cluster).verificationCredentials,
            baseBackupMaxIntervalSeconds: interval.baseBackup,
            logicalBackupMaxIntervalSeconds: interval.logicalBackup,
            verificationMaxIntervalSeconds: interval.verification,
        },
        alerts: {
            ...c.alerts,
            walArchiveAgeSeconds: walArchiveAge.thresholdSeconds,
            walArchiveAge,
            archiveBacklog: archiveBacklogTiming(archiveTimeoutSeconds, c.walUploadAllowance),
            replicaLagSeconds: replicaLag.thresholdSeconds,
            replicaLag,
            baseBackupMaxAgeSeconds: interval.baseBackup + BACKUP_GRACE_SECONDS,
            logicalBackupMaxAgeSeconds: interval.logicalBackup + BACKUP_GRACE_SECONDS,
            verificationMaxAgeSeconds: interval.verification + VERIFICATION_GRACE_SECONDS,
            replicationLatencySeconds: RTC_REPLICATION_BOUND_SECONDS,
            logicalBackupSlowSeconds: LOGICAL_BACKUP_SLOW_SECONDS,
        },
    };
}

