// RPO arithmetic: what bounds data loss for each disruption, in seconds.
// The config module derives settings from it and the policy pack checks declared
// resources against it, so a change to a rule here changes both.

/** S3 Replication Time Control: 99.99 % of objects replicate within 15 minutes (the AWS SLA). */
export const RTC_REPLICATION_BOUND_SECONDS = 15 * 60;

/**
 * PostgreSQL forces a WAL segment switch every archive_timeout; much lower values flood the
 * archive with mostly empty 16 MB segments (PostgreSQL docs), so we never go below this.
 */
export const MIN_ARCHIVE_TIMEOUT_SECONDS = 10;

export interface RpoTargets {
    /** Loss of the whole primary region. */
    regionSeconds: number;
    /** Corruption or accidental deletion, recovered by point-in-time restore in the same region. */
    dataCorruptionSeconds: number;
}

export interface ArchiveTimeoutDerivation {
    /** The archive_timeout to configure, in seconds. */
    archiveTimeoutSeconds: number;
    /** The RPO that set it ("data-corruption" or "region"). */
    boundBy: "data-corruption" | "region";
}

/**
 * The WAL archive_timeout an RPO implies. A commit is lost in a point-in-time restore if its
 * segment was not yet archived: worst case archive_timeout + upload time. For region loss by log
 * shipping alone, the S3 replication bound adds on top; that path only tightens archive_timeout
 * when the region RPO leaves room for it at all (otherwise streaming must carry the region RPO).
 */
export function deriveArchiveTimeout(rpo: RpoTargets, walUploadAllowanceSeconds: number): ArchiveTimeoutDerivation {
    const byCorruption = rpo.dataCorruptionSeconds - walUploadAllowanceSeconds;
    const byRegion = rpo.regionSeconds - walUploadAllowanceSeconds - RTC_REPLICATION_BOUND_SECONDS;
    if (byRegion >= MIN_ARCHIVE_TIMEOUT_SECONDS && byRegion < byCorruption) {
        return { archiveTimeoutSeconds: byRegion, boundBy: "region" };
    }
    return { archiveTimeoutSeconds: byCorruption, boundBy: "data-corruption" };
}

/** The smallest data-corruption RPO that WAL archiving can honour with this upload allowance. */
export function minimumArchivableRpoSeconds(walUploadAllowanceSeconds: number): number {
    return MIN_ARCHIVE_TIMEOUT_SECONDS + walUploadAllowanceSeconds;
}

/**
 * Worst-case data loss on region loss when the standby only gets WAL through the archive:
 * the last segment waits up to archive_timeout, takes the upload time, then S3 replication.
 */
export function logShippingRegionLossBoundSeconds(
    archiveTimeoutSeconds: number,
    walUploadAllowanceSeconds: number,
    replicationBoundSeconds: number = RTC_REPLICATION_BOUND_SECONDS,
): number {
    return archiveTimeoutSeconds + walUploadAllowanceSeconds + replicationBoundSeconds;
}

/** Worst-case data loss of a point-in-time restore from the archive in the same region. */
export function pointInTimeRestoreBoundSeconds(archiveTimeoutSeconds: number, walUploadAllowanceSeconds: number): number {
    return archiveTimeoutSeconds + walUploadAllowanceSeconds;
}

/**
 * How often the heartbeat commits on the primary (components/monitoring/heartbeat.ts). Replica lag
 * (`now() - pg_last_xact_replay_timestamp()`) and the restore verification's recovery point are
 * measured from the newest replayed *commit*: without a steady commit they grow on an idle database
 * with nothing at risk. With a commit every HEARTBEAT_INTERVAL_SECONDS, the newest commit a copy holds
 * is at most this much older than the end of the WAL it holds, so either measurement overstates the
 * true gap by at most this interval.
 */
export const HEARTBEAT_INTERVAL_SECONDS = 30;

/** When an alert fires: its threshold, and how long the condition must hold (Prometheus `for:`). */
export interface AlertTiming {
    thresholdSeconds: number;
    forSeconds: number;
}

/**
 * An alert that must notice a breach of `boundSeconds` within that bound: the threshold plus `for:`
 * never exceed it (the policy pack checks the sum). `for:` filters one-sample blips; a tight bound
 * (a few seconds) cannot spare it whole, so it takes at most half the bound.
 */
export function detectWithin(boundSeconds: number, forSeconds: number): AlertTiming {
    // A tight bound (a few seconds) cannot spare the usual for:, so for: takes at most half of it.
    const waitFor = Math.min(forSeconds, Math.floor(boundSeconds / 2));
    return { thresholdSeconds: boundSeconds - waitFor, forSeconds: waitFor };
}

/**
 * The archive backlog alert. The PITR bound (archive_timeout + walUploadAllowance) budgets
 * walUploadAllowance from the moment a segment is complete ("ready") to the moment it is archived.
 * The expected wait of a segment that just became ready is the backlog divided by the archive rate
 * (ready segments / archived segments per second): when it exceeds that budget the archiver falls
 * behind the RPO even though each upload succeeds. `for:` is archive_timeout, so threshold + for:
 * equals the PITR bound: a backlog that lasts is reported within the data-corruption RPO.
 */
export function archiveBacklogTiming(archiveTimeoutSeconds: number, walUploadAllowanceSeconds: number): AlertTiming {
    return { thresholdSeconds: walUploadAllowanceSeconds, forSeconds: archiveTimeoutSeconds };
}
