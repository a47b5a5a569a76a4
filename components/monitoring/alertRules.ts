// Prometheus alert rules as a pure function of the stack config: every threshold comes from the
// RPO arithmetic and the schedules derived in config/derive.ts, never typed twice; names and
// metrics come from the alert catalog and the contract (model/). The same groups
// go into the PrometheusRule (DrAlerts) and into a rules file (`npm run rules`) for promtool.
//
// Metric sources: the CloudNativePG exporter (cnpg_*), the Barman Cloud plugin
// (barman_cloud_cloudnative_pg_io_*), kube-state-metrics (kube_cronjob_*), and the restore
// verification jobs (drstack_restore_verification_*, see scripts/README.md).
// Annotations are plain text (no $value/$labels templates) so promtool tests can assert them
// exactly; the labels carry the pod and kind.

import { DrConfig } from "../../config";
import { ALERT, AlertName, runbookAnchor } from "../../model/alertCatalog";
import { EXTERNAL_METRICS as M, JOB_METRICS as J, JOB_METRIC_LABELS, jobNames } from "../../model/contract";
import { formatDuration } from "../../model/duration";

export { runbookAnchor };

export interface AlertRule {
    alert: AlertName;
    expr: string;
    for: string;
    labels: Record<string, string>;
    annotations: { summary: string; description: string; runbook_url: string };
}

export interface RuleGroup {
    name: string;
    interval?: string;
    rules: AlertRule[];
}

/** Prometheus duration syntax accepts the same compound units formatDuration writes ("4m30s", "1d1h"). */
const d = formatDuration;

export function alertRuleGroups(c: DrConfig): { groups: RuleGroup[] } {
    const a = c.alerts;
    const cluster = c.names.cluster;
    const ns = c.kubernetes.namespace;
    // CloudNativePG pods are named <cluster>-<n>; PodMonitor scrapes add namespace and pod labels.
    const pods = `namespace="${ns}", pod=~"${cluster}-[0-9]+"`;
    const jobs = jobNames(cluster);
    // The primary's own archive is what the RPO rests on; a standby's archiving matters after promotion.
    const archiveSeverity = c.isPrimary ? "critical" : "warning";
    const rule = (alert: AlertName, expr: string, forDuration: string, severity: string, summary: string, description: string): AlertRule => ({
        alert,
        expr,
        for: forDuration,
        labels: { severity, cluster, role: c.role },
        annotations: { summary, description, runbook_url: `${a.runbookBaseUrl}#${runbookAnchor(alert)}` },
    });

    const archiving: AlertRule[] = [
        // Only WAL that is ready but not archived is data at risk; an idle database archives nothing and is fine.
        rule(
            ALERT.DrWalArchiveStale,
            `(${M.archiveAge}{${pods}} > ${a.walArchiveAgeSeconds})` +
                ` and on (namespace, pod) (${M.walArchiveStatus}{${pods}, value="ready"} > 0)`,
            "1m",
            archiveSeverity,
            `WAL of ${cluster} is waiting to be archived for longer than the RPO allows`,
            `An instance has WAL ready for archiving and archived nothing for longer than ` +
                `the limit of ${d(a.walArchiveAgeSeconds)} (archive_timeout ${c.wal.archiveTimeout} + upload allowance ` +
                `${d(c.walUploadAllowanceSeconds)}, drstack:rpo.data-corruption ${d(c.rpo.dataCorruptionSeconds)}).`,
        ),
        rule(
            ALERT.DrWalArchiveFailing,
            `${M.archiveLastFailed}{${pods}} > on (namespace, pod) ${M.archiveLastArchived}{${pods}}`,
            "2m",
            archiveSeverity,
            `WAL archiving of ${cluster} is failing`,
            `The last WAL archive attempt failed and none succeeded since; PostgreSQL keeps the WAL and retries, ` +
                `but nothing new reaches s3://${c.names.bucket}/${cluster}/.`,
        ),
        rule(
            ALERT.DrWalArchiveMetricsAbsent,
            `absent(${M.archiveAge}{${pods}})`,
            "10m",
            "warning",
            `No WAL archiving metrics from ${cluster}`,
            `Prometheus has no cnpg_pg_stat_archiver metrics for ${cluster} in ${ns}: the archive age cannot be checked against the RPO.`,
        ),
    ];

    const verified = c.topology.verifiedCluster;
    const verifiedLabel = `${JOB_METRIC_LABELS.cluster}="${verified}"`;
    const backups: AlertRule[] = [
        rule(
            ALERT.DrBaseBackupTooOld,
            `time() - max by (namespace) (${M.lastAvailableBackup}{${pods}}) > ${a.baseBackupMaxAgeSeconds}`,
            "10m",
            "warning",
            `The newest base backup of ${cluster} is older than its schedule allows`,
            `The newest base backup is older than the schedule "${c.backups.baseBackupSchedule}" ` +
                `allows: ${d(c.backups.baseBackupMaxIntervalSeconds)} plus ${d(a.baseBackupMaxAgeSeconds - c.backups.baseBackupMaxIntervalSeconds)} grace.`,
        ),
        rule(
            ALERT.DrBaseBackupMetricsAbsent,
            `absent(${M.lastAvailableBackup}{${pods}})`,
            "30m",
            "warning",
            `No base backup metrics from ${cluster}`,
            "The Barman Cloud plugin reports no last available backup: no base backup exists yet, or the plugin is not scraped.",
        ),
    ];
    // The logical backup runs only where the database is writable: the primary.
    const logical: AlertRule[] = !c.isPrimary ? [] : [
        rule(
            ALERT.DrLogicalBackupNotSucceeding,
            `time() - ${M.cronJobLastSuccess}{namespace="${ns}", cronjob="${jobs.logicalBackup}"} > ${a.logicalBackupMaxAgeSeconds}`,
            "10m",
            "warning",
            `The logical backup of ${cluster} has not succeeded on time`,
            `CronJob ${jobs.logicalBackup} has not succeeded for longer than its schedule ` +
                `"${c.backups.logicalBackupSchedule}" allows: ${d(a.logicalBackupMaxAgeSeconds)} including grace.`,
        ),
        rule(
            ALERT.DrLogicalBackupNeverSucceeded,
            `absent(${M.cronJobLastSuccess}{namespace="${ns}", cronjob="${jobs.logicalBackup}"})`,
            d(a.logicalBackupMaxAgeSeconds),
            "warning",
            `No successful logical backup of ${cluster} is known`,
            `kube-state-metrics has reported no successful run of CronJob ${jobs.logicalBackup} for ${d(a.logicalBackupMaxAgeSeconds)}.`,
        ),
    ];

    const verification: AlertRule[] = [
        rule(
            ALERT.DrRestoreVerificationFailed,
            `${J.verificationSuccess}{${verifiedLabel}} == 0`,
            "0m",
            "critical",
            `Restore verification of the backups of ${verified} failed`,
            "The last restore verification (label kind: logical or physical) failed: the newest backup may not be restorable. " +
                "The job's log line and the result object in the bucket name the cause.",
        ),
        rule(
            ALERT.DrRestoreVerificationStale,
            `time() - ${J.verificationLastSuccess}{${verifiedLabel}} > ${a.verificationMaxAgeSeconds}`,
            "30m",
            "warning",
            `Restore verification of the backups of ${verified} has not succeeded recently`,
            `No restore verification (label kind) has succeeded for longer than the schedule ` +
                `"${c.backups.verificationSchedule}" allows: ${d(a.verificationMaxAgeSeconds)} including grace.`,
        ),
        rule(
            ALERT.DrRestoreVerificationAbsent,
            `absent(${J.verificationLastRun}{${verifiedLabel}})`,
            d(a.verificationMaxAgeSeconds),
            "warning",
            `No restore verification results for the backups of ${verified}`,
            `No restore verification of the backups of ${verified} has reported for ${d(a.verificationMaxAgeSeconds)}: backups are unverified.`,
        ),
    ];

    const groups: RuleGroup[] = [
        { name: `drstack-${cluster}-wal-archiving`, rules: archiving },
        { name: `drstack-${cluster}-backups`, rules: [...backups, ...logical, ...verification] },
    ];

    if (!c.isPrimary) {
        const standby: AlertRule[] = [
            rule(
                ALERT.DrReplicaLagAboveRpo,
                `${M.replicationLag}{${pods}} > ${a.replicaLagSeconds}`,
                "2m",
                "critical",
                `The standby ${cluster} lags the primary by more than the region RPO`,
                `An instance is more than ${d(a.replicaLagSeconds)} behind; drstack:rpo.region is ${d(c.rpo.regionSeconds)}. ` +
                    "A region loss now would lose more than the RPO. (On an idle primary the lag grows with no data at risk.)",
            ),
            rule(
                ALERT.DrStandbyNotReporting,
                `absent(${M.replicationLag}{${pods}})`,
                "10m",
                "critical",
                `The standby ${cluster} reports no replication state`,
                `No ${M.replicationLag} from ${cluster}: the standby is down, not in recovery, or not scraped; it may not be receiving WAL at all.`,
            ),
        ];
        if (c.streaming) {
            standby.push(
                rule(
                    ALERT.DrStandbyNotStreaming,
                    `${M.walReceiverUp}{${pods}} == 0`,
                    "5m",
                    "warning",
                    `The standby ${cluster} is not streaming from the primary`,
                    `Streaming from ${c.streaming.host} is down; WAL now comes only through the archive, so a region loss ` +
                        `could lose up to ${d(c.wal.logShippingRegionLossBoundSeconds)} (drstack:rpo.region is ${d(c.rpo.regionSeconds)}).`,
                ),
            );
        }
        groups.push({ name: `drstack-${cluster}-standby`, rules: standby });
    }
    return { groups };
}
