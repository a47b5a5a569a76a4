// Prometheus alert rules as a pure function of the stack config: every threshold comes from the
// RPO arithmetic and the schedules derived in config/derive.ts, never typed twice; names and
// metrics come from the alert catalog and the contract (model/). The same groups
// go into the PrometheusRule (DrAlerts) and into a rules file (`npm run rules`) for promtool.
//
// Metric sources: the CloudNativePG exporter (cnpg_*), the Barman Cloud plugin
// (barman_cloud_cloudnative_pg_io_*), kube-state-metrics (kube_cronjob_*), and the restore
// verification jobs (drstack_restore_verification_*, see scripts/README.md).
// Annotations are plain text (no $value/$labels templates) so promtool tests can assert them
// exactly; the labels carry the pod and kind. Every alert carries a `cluster` label naming the
// cluster it is about: its own, or for the restore verification alerts the cluster whose backups
// are verified (config topology.verifiedCluster: on the DR stack, the primary's replicated backups).

import { DrConfig } from "../../config";
import { ALERT, ALERTS, AlertName, LOGICAL_BACKUP_SIZE_CHANGE_RATIO, runbookAnchor } from "../../model/alertCatalog";
import { configKey, EXTERNAL_METRICS as M, JOB_METRICS as J, JOB_METRIC_LABELS, jobNames } from "../../model/contract";
import { formatDuration } from "../../model/duration";
import { HEARTBEAT_INTERVAL_SECONDS } from "../../model/rpo";

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
    const verified = c.topology.verifiedCluster;
    const rule = (alert: AlertName, expr: string, forDuration: string, severity: string, summary: string, description: string): AlertRule => ({
        alert,
        expr,
        for: forDuration,
        labels: { severity, cluster: (ALERTS[alert] as { about?: string }).about === "verified" ? verified : cluster, role: c.role },
        annotations: { summary, description, runbook_url: `${a.runbookBaseUrl}#${runbookAnchor(alert)}` },
    });

    const stale = a.walArchiveAge;
    const backlog = a.archiveBacklog;
    const ready = `${M.walArchiveStatus}{${pods}, value="ready"}`;
    const archiving: AlertRule[] = [
        // Only WAL that is ready but not archived is data at risk; an idle database archives nothing and is fine.
        // CloudNativePG's pg_stat_archiver query reports seconds_since_last_archival as -1 while nothing was
        // ever archived (COALESCE(..., -1), vendor/cnpg-monitoring/default-monitoring.yaml): then the age is
        // counted from the postmaster's start (pg_postmaster query), the earliest archiving could have begun.
        rule(
            ALERT.DrWalArchiveStale,
            `((${M.archiveAge}{${pods}} > ${stale.thresholdSeconds})` +
                ` or (${M.archiveAge}{${pods}} < 0 and on (namespace, pod) (time() - ${M.postmasterStartTime}{${pods}} > ${stale.thresholdSeconds})))` +
                ` and on (namespace, pod) (${ready} > 0)`,
            d(stale.forSeconds),
            archiveSeverity,
            `WAL of ${cluster} is waiting to be archived for longer than the RPO allows`,
            `An instance has WAL ready for archiving and archived nothing for ${d(stale.thresholdSeconds)} plus ${d(stale.forSeconds)} ` +
                `(or never archived anything since it started): the point-in-time restore bound is ${d(c.wal.pointInTimeRestoreBoundSeconds)} ` +
                `(archive_timeout ${c.wal.archiveTimeout} + upload allowance ${d(c.walUploadAllowanceSeconds)}, ` +
                `${configKey("rpo.data-corruption")} ${d(c.rpo.dataCorruptionSeconds)}).`,
        ),
        // An archiver that keeps succeeding but falls behind: the expected wait of a segment that just became
        // ready is the backlog over the archive rate. Derivation: model/rpo.ts archiveBacklogTiming.
        rule(
            ALERT.DrWalArchiveBacklog,
            `(${ready} / on (namespace, pod) rate(${M.archivedCount}{${pods}}[5m])) > ${backlog.thresholdSeconds}`,
            d(backlog.forSeconds),
            archiveSeverity,
            `The WAL archive of ${cluster} falls behind the RPO`,
            `Segments wait longer than the upload allowance of ${d(backlog.thresholdSeconds)} to be archived (ready segments / archive rate), ` +
                `for ${d(backlog.forSeconds)} (archive_timeout): WAL older than ${configKey("rpo.data-corruption")} ${d(c.rpo.dataCorruptionSeconds)} ` +
                "is only on the PostgreSQL volume although each upload succeeds.",
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

    const verifiedLabel = `${JOB_METRIC_LABELS.cluster}="${verified}"`;
    const backups: AlertRule[] = [
        rule(
            ALERT.DrBaseBackupTooOld,
            `time() - max by (namespace) (${M.lastAvailableBackup}{${pods}}) > ${a.baseBackupMaxAgeSeconds}`,
            "10m",
            "warning",
            `The newest base backup of ${cluster} is older than its schedule allows`,
            `The newest base backup is older than the schedule "${c.backups.baseBackupSchedule}" ` +
                `allows: ${d(c.backups.baseBackupMaxIntervalSeconds)} plus ${d(a.baseBackupMaxAgeSeconds - c.backups.baseBackupMaxIntervalSeconds)} grace, ` +
                "or none exists: the Barman Cloud plugin then reports 0.",
        ),
        rule(
            ALERT.DrBaseBackupMetricsAbsent,
            `absent(${M.lastAvailableBackup}{${pods}})`,
            "30m",
            "warning",
            `No base backup metrics from ${cluster}`,
            // The plugin reports 0 (not nothing) when the ObjectStore lists no backup of the server
            // (plugin-barman-cloud internal/cnpgi/instance/metrics.go @v0.7.0): that case is DrBaseBackupTooOld.
            "The Barman Cloud plugin's backup metrics are missing: the cluster's pods are not scraped, or the plugin is not " +
                "loaded by the instances (no base backup at all shows as DrBaseBackupTooOld, the plugin then reports 0).",
        ),
    ];
    const ownSize = `${J.logicalBackupSize}{${JOB_METRIC_LABELS.cluster}="${cluster}"}`;
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
        // Seed 004: alert on a size change of more than +/-50 %. The logical backup publishes its total
        // size (scripts/README.md); base backups have no size or duration metric (the plugin exports
        // only timestamps), so the size and duration alerts watch the logical backup.
        rule(
            ALERT.DrLogicalBackupSizeChanged,
            `abs(${ownSize} - (${ownSize} offset ${d(c.backups.logicalBackupMaxIntervalSeconds)}))` +
                ` > ${LOGICAL_BACKUP_SIZE_CHANGE_RATIO} * (${ownSize} offset ${d(c.backups.logicalBackupMaxIntervalSeconds)})`,
            "10m",
            "warning",
            `The logical backup of ${cluster} changed size by more than ${LOGICAL_BACKUP_SIZE_CHANGE_RATIO * 100} %`,
            `The newest logical backup differs in size by more than ${LOGICAL_BACKUP_SIZE_CHANGE_RATIO * 100} % from the one ` +
                `${d(c.backups.logicalBackupMaxIntervalSeconds)} earlier (schedule "${c.backups.logicalBackupSchedule}"): ` +
                "a mass delete, a runaway table, or a dump that missed a database.",
        ),
        // Seed 004: an upload over 20 minutes. The run's Job (dump + upload) as kube-state-metrics sees it:
        // active and started more than the limit ago, owned by the logical backup CronJob.
        rule(
            ALERT.DrLogicalBackupSlow,
            `(time() - ${M.jobStartTime}{namespace="${ns}"} > ${c.alerts.logicalBackupSlowSeconds})` +
                ` and on (namespace, job_name) (${M.jobActive}{namespace="${ns}"} > 0)` +
                ` and on (namespace, job_name) ${M.jobOwner}{namespace="${ns}", owner_kind="CronJob", owner_name="${jobs.logicalBackup}"}`,
            "0m",
            "warning",
            `A logical backup of ${cluster} runs for more than ${d(c.alerts.logicalBackupSlowSeconds)}`,
            `A run of CronJob ${jobs.logicalBackup} (dump and upload) is still active after ${d(c.alerts.logicalBackupSlowSeconds)}: ` +
                "the database grew, S3 is slow, or the job hangs; the next scheduled run may overlap or be skipped.",
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
            // Which signal: CloudNativePG's pg_replication query (vendor/cnpg-monitoring/default-monitoring.yaml)
            // reports 0 while the standby has replayed all it received, else now() - pg_last_xact_replay_timestamp().
            // With log shipping only, pg_last_wal_receive_lsn() is NULL (PostgreSQL docs, "Recovery Control
            // Functions"), so the lag is the time since the last replayed commit. Bytes behind the primary
            // (pg_stat_replication *_diff_bytes) are exported by the primary only, to the primary region's
            // Prometheus, and only while streaming; the standby exports no position of the primary (no
            // pg_stat_wal_receiver query in the defaults, and the cnpg_collector_* built-ins of
            // pkg/management/postgres/webserver/metricserver/pg_collector.go @v1.30.0 hold none). So the
            // primary commits a heartbeat every HEARTBEAT_INTERVAL_SECONDS (components/monitoring/heartbeat.ts):
            // the measured lag is then at least the true lag and at most the true lag plus that interval,
            // and an idle primary no longer looks like a loss.
            rule(
                ALERT.DrReplicaLagAboveRpo,
                `${M.replicationLag}{${pods}} > ${a.replicaLagSeconds}`,
                d(a.replicaLag.forSeconds),
                "critical",
                `The standby ${cluster} lags the primary by more than the region RPO`,
                `An instance has replayed nothing the primary committed in the last ${d(a.replicaLagSeconds)} for ${d(a.replicaLag.forSeconds)}; ` +
                    `${configKey("rpo.region")} is ${d(c.rpo.regionSeconds)}. The primary commits a heartbeat every ` +
                    `${d(HEARTBEAT_INTERVAL_SECONDS)}, so an idle primary keeps this near 0: a region loss now would lose more than the RPO.`,
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
