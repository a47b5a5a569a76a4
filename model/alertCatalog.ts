// The alert catalog: every alert drstack declares, the metric(s) it reads, and the stack setting
// its threshold derives from. The rule builder (components/monitoring/alertRules.ts) takes names
// and metrics from here; the policy pack checks the guarded thresholds against its targets; the
// README's runbook anchors and the promtool tests use the same names.

import { EXTERNAL_METRICS as M, JOB_METRICS as J } from "./contract";
import { TargetKey } from "./targets";

export interface AlertDefinition {
    /** The metrics the expression reads; the first one carries the threshold. */
    metrics: readonly string[];
    /** Where the threshold comes from: a stack setting (drstack:<setting>) or a fixed rule. */
    thresholdFrom: string;
    /** Declared only on this role's stack (both when absent). */
    role?: "primary" | "standby";
    /**
     * A pack target the threshold (`<metric>{...} > <seconds>`) plus the rule's `for:` must stay within;
     * the pack needs the alert on the listed roles. `metric` names the thresholded metric when it is not the first.
     */
    guard?: { target: TargetKey; requiredOn: readonly ("primary" | "standby")[]; metric?: string };
    /** The label that names the cluster the alert is about: the cluster whose data is at risk. */
    about?: "own" | "verified";
}

export const ALERTS = {
    DrWalArchiveStale: {
        metrics: [M.archiveAge, M.walArchiveStatus, M.postmasterStartTime],
        thresholdFrom: "rpo.data-corruption (archive_timeout + walUploadAllowance, minus for:)",
        guard: { target: "rpoDataCorruption", requiredOn: ["primary", "standby"] },
    },
    DrWalArchiveBacklog: {
        metrics: [M.walArchiveStatus, M.archivedCount],
        thresholdFrom: "walUploadAllowance (expected wait of a ready segment), for: archive_timeout",
        guard: { target: "rpoDataCorruption", requiredOn: ["primary", "standby"], metric: M.archivedCount },
    },
    DrWalArchiveFailing: { metrics: [M.archiveLastFailed, M.archiveLastArchived], thresholdFrom: "none: any failure since the last success" },
    DrWalArchiveMetricsAbsent: { metrics: [M.archiveAge], thresholdFrom: "none: absence" },
    DrBaseBackupTooOld: { metrics: [M.lastAvailableBackup], thresholdFrom: "backups.baseBackupSchedule (+ grace)" },
    DrBaseBackupMetricsAbsent: { metrics: [M.lastAvailableBackup], thresholdFrom: "none: absence" },
    DrLogicalBackupNotSucceeding: { metrics: [M.cronJobLastSuccess], thresholdFrom: "backups.logicalBackupSchedule (+ grace)", role: "primary" },
    DrLogicalBackupNeverSucceeded: { metrics: [M.cronJobLastSuccess], thresholdFrom: "backups.logicalBackupSchedule (+ grace)", role: "primary" },
    DrLogicalBackupSizeChanged: {
        metrics: [J.logicalBackupSize],
        thresholdFrom: "fixed: more than +/-50 % against the backup one schedule interval earlier (seed 004)",
        role: "primary",
    },
    DrLogicalBackupSlow: {
        metrics: [M.jobStartTime, M.jobActive, M.jobOwner],
        thresholdFrom: "fixed: a run (dump + upload) active for more than 20 minutes (seed 004)",
        role: "primary",
    },
    DrRestoreVerificationFailed: { metrics: [J.verificationSuccess], thresholdFrom: "none: the last verification failed", about: "verified" },
    DrRestoreVerificationStale: { metrics: [J.verificationLastSuccess], thresholdFrom: "backups.verificationSchedule (+ grace)", about: "verified" },
    DrRestoreVerificationAbsent: { metrics: [J.verificationLastRun], thresholdFrom: "backups.verificationSchedule (+ grace)", about: "verified" },
    DrReplicaLagAboveRpo: {
        metrics: [M.replicationLag],
        thresholdFrom: "rpo.region (minus for:), measured against the primary's heartbeat",
        role: "standby",
        guard: { target: "rpoRegion", requiredOn: ["standby"] },
    },
    DrStandbyNotReporting: { metrics: [M.replicationLag], thresholdFrom: "none: absence", role: "standby" },
    DrStandbyNotStreaming: { metrics: [M.walReceiverUp], thresholdFrom: "none: streaming down (only with drstack:streaming)", role: "standby" },
} as const satisfies Record<string, AlertDefinition>;

export type AlertName = keyof typeof ALERTS;

/** The alerts whose threshold the policy pack checks against a target. */
export function guardedAlerts(): { alert: AlertName; metric: string; target: TargetKey; requiredOn: readonly string[] }[] {
    return (Object.entries(ALERTS) as [AlertName, AlertDefinition][])
        .filter(([, a]) => a.guard !== undefined)
        .map(([alert, a]) => ({ alert, metric: a.guard!.metric ?? a.metrics[0], target: a.guard!.target, requiredOn: a.guard!.requiredOn }));
}

/** Seed 004's thresholds: a logical backup whose size moves by more than this fraction, a run longer than this. */
export const LOGICAL_BACKUP_SIZE_CHANGE_RATIO = 0.5;
export const LOGICAL_BACKUP_SLOW_SECONDS = 20 * 60;

/** The anchor of an alert's runbook section in the README ("### Alert: DrWalArchiveStale"). */
export function runbookAnchor(alert: string): string {
    return `alert-${alert.toLowerCase()}`;
}

/** CloudWatch alarms on S3 replication (DrAlerts), with the metric and the threshold's origin. */
export const CLOUDWATCH_ALARMS = {
    "replication-latency": { metric: M.s3ReplicationLatency, thresholdFrom: "the S3 RTC bound (15 minutes)" },
    "replication-failures": { metric: M.s3OperationsFailedReplication, thresholdFrom: "none: any failed replication" },
} as const;

/** The alert names as values (ALERT.DrWalArchiveStale === "DrWalArchiveStale"), so code never retypes one. */
export const ALERT = Object.fromEntries(Object.keys(ALERTS).map((name) => [name, name])) as { readonly [K in AlertName]: K };
