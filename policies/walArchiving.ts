// WAL archiving and base backups of every CloudNativePG cluster: archiving on, archive_timeout
// within the RPO, retention covering the recovery window, base backups often enough.
import { BARMAN_CLOUD_PLUGIN } from "../model/contract";
import { isRestoreCluster } from "../model/restore";
import { pointInTimeRestoreBoundSeconds } from "../model/rpo";
import { cronProblem, maxIntervalSeconds } from "../model/schedule";
import { ofType, T } from "./stack";
import { describe, fixedIn, formatDuration, parsePgSeconds, resourcePolicy, setting, stackPolicy, target, targetsOf } from "./targets";

/** CloudNativePG's archive_timeout when none is set. */
export const CNPG_DEFAULT_ARCHIVE_TIMEOUT = "5min";
const CLUSTER_FILE = "components/postgres/cluster.ts";

export const walArchiving = resourcePolicy({
    name: "wal-archiving-within-rpo",
    description: "Every PostgreSQL cluster archives WAL, with archive_timeout at most the data-corruption RPO minus the WAL upload allowance.",
    types: [T.cnpgCluster],
    // A point-in-time restore must not archive: policies/restore.ts holds those clusters.
    only: { when: (props) => !isRestoreCluster(props), what: "the region's clusters (restore clusters are checked by point-in-time-restore-target)" },
    targets: ["rpoDataCorruption", "walUploadAllowance"],
    validate: (props, args, report) => {
        const t = targetsOf(args);
        const spec = props.spec ?? {};
        const archiver = (spec.plugins ?? []).find((p: any) => p.name === BARMAN_CLOUD_PLUGIN && p.isWALArchiver === true && p.enabled !== false);
        if (!archiver && !spec.backup?.barmanObjectStore) {
            report(
                `${describe(args)}: spec.plugins has no enabled ${BARMAN_CLOUD_PLUGIN} entry with isWALArchiver: true; the cluster archives no WAL, so nothing bounds data loss`,
                fixedIn(CLUSTER_FILE),
            );
        }
        const text = spec.postgresql?.parameters?.archive_timeout ?? CNPG_DEFAULT_ARCHIVE_TIMEOUT;
        const seconds = parsePgSeconds(text);
        const upload = t.seconds("walUploadAllowance");
        // The point-in-time restore bound is archive_timeout + upload; it must stay within the RPO.
        const limit = t.seconds("rpoDataCorruption") - upload;
        if (seconds === undefined || seconds === 0 || pointInTimeRestoreBoundSeconds(seconds, upload) > t.seconds("rpoDataCorruption")) {
            report(
                `${describe(args)}: postgresql.parameters.archive_timeout is ${JSON.stringify(text)}; the limit is ${formatDuration(limit)} ` +
                    `(target rpoDataCorruption ${t.text("rpoDataCorruption")} minus WAL upload allowance ${t.text("walUploadAllowance")}); ` +
                    "drstack derives archive_timeout from the RPO",
                target("rpoDataCorruption"),
            );
        }
    },
});

/** Barman retention like "30d", "4w", "3m" (months), in the fewest days it can mean. */
function retentionDays(policy: unknown): number | undefined {
    const m = /^([1-9][0-9]*)([dwm])$/.exec(String(policy ?? ""));
    return m ? Number(m[1]) * { d: 1, w: 7, m: 28 }[m[2] as "d" | "w" | "m"] : undefined;
}

export const archiveRetention = resourcePolicy({
    name: "wal-archive-retention",
    description: "Object stores that archive WAL keep backups at least for the recovery window.",
    types: [T.objectStore],
    only: { when: (props) => props.spec?.configuration?.wal !== undefined, what: "object stores that archive WAL (read-only stores get retention where they are written)" },
    targets: ["recoveryWindow"],
    validate: (props, args, report) => {
        const t = targetsOf(args);
        const windowDays = Math.ceil(t.seconds("recoveryWindow") / 86400);
        const days = retentionDays(props.spec?.retentionPolicy);
        if (days === undefined || days < windowDays) {
            report(
                `${describe(args)}: spec.retentionPolicy is ${JSON.stringify(props.spec?.retentionPolicy ?? null)}; the limit is at least ${windowDays}d ` +
                    `(target recoveryWindow ${t.text("recoveryWindow")})`,
                target("recoveryWindow"),
            );
        }
    },
});

export const baseBackupFrequency = resourcePolicy({
    name: "base-backup-frequency",
    description: "Scheduled base backups run at least as often as the policy allows.",
    types: [T.scheduledBackup],
    targets: ["maxBaseBackupInterval"],
    validate: (props, args, report) => {
        const t = targetsOf(args);
        const schedule = String(props.spec?.schedule ?? "");
        const problem = cronProblem(schedule, "cloudnative-pg");
        if (problem) {
            report(`${describe(args)}: spec.schedule ${problem}`, target("maxBaseBackupInterval"));
            return;
        }
        const gap = maxIntervalSeconds(schedule);
        if (gap > t.seconds("maxBaseBackupInterval")) {
            report(
                `${describe(args)}: spec.schedule "${schedule}" leaves up to ${formatDuration(gap)} between base backups; the limit is ` +
                    `${t.text("maxBaseBackupInterval")} (target maxBaseBackupInterval)`,
                target("maxBaseBackupInterval"),
            );
        }
        if (props.spec?.suspend === true) {
            report(`${describe(args)}: spec.suspend is true; base backups are not running`, setting("backups.baseBackupSchedule"));
        }
    },
});

export const archivingComplete = stackPolicy({
    name: "wal-archiving-complete",
    description: "Every PostgreSQL cluster has its archive object store (with retention) and a scheduled base backup.",
    validate: (args, report) => {
        const stores = ofType(args.resources, T.objectStore);
        const backups = ofType(args.resources, T.scheduledBackup);
        for (const cluster of ofType(args.resources, T.cnpgCluster).filter((c) => !isRestoreCluster(c.props))) {
            const name = cluster.props.metadata?.name;
            const archiver = (cluster.props.spec?.plugins ?? []).find((p: any) => p.isWALArchiver === true);
            const storeName = archiver?.parameters?.barmanObjectName;
            const store = stores.find((s) => s.props.metadata?.name === storeName);
            if (storeName && !store) {
                report(`${describe(cluster)}: archives to ObjectStore ${storeName}, which this stack does not declare`, fixedIn(CLUSTER_FILE), cluster.urn);
            } else if (store && store.props.spec?.retentionPolicy === undefined) {
                report(`${describe(cluster)}: its archive ObjectStore ${storeName} has no retentionPolicy`, setting("recoveryWindow"), cluster.urn);
            }
            if (!backups.some((b) => b.props.spec?.cluster?.name === name)) {
                report(`${describe(cluster)}: no ScheduledBackup targets cluster ${name}; it would have no base backups`, setting("backups.baseBackupSchedule"), cluster.urn);
            }
        }
    },
});

export const walArchivingPolicies = [walArchiving, archiveRetention, baseBackupFrequency, archivingComplete];
