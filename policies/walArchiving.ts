// WAL archiving and base backups of every CloudNativePG cluster: archiving on, archive_timeout
// within the RPO, retention covering the recovery window, base backups often enough.
import { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { cronProblem, maxIntervalSeconds } from "../model/schedule";
import { BARMAN_CLOUD_PLUGIN, CNPG_CLUSTER_TYPE, OBJECT_STORE_TYPE, ofType, SCHEDULED_BACKUP_TYPE } from "./stack";
import { describe, formatDuration, parsePgSeconds, targetsOf, targetsSchema } from "./targets";

/** CloudNativePG's archive_timeout when none is set. */
const CNPG_DEFAULT_ARCHIVE_TIMEOUT = "5min";

export const walArchiving: ResourceValidationPolicy = {
    name: "wal-archiving-within-rpo",
    description: "Every PostgreSQL cluster archives WAL, with archive_timeout at most the data-corruption RPO minus the WAL upload allowance.",
    enforcementLevel: "mandatory",
    configSchema: targetsSchema("rpoDataCorruption", "walUploadAllowance"),
    validateResource: (args, report) => {
        if (args.type !== CNPG_CLUSTER_TYPE) {
            return args.notApplicable(`Policy only applies to resources of type '${CNPG_CLUSTER_TYPE}'`);
        }
        const t = targetsOf(args);
        const spec = args.props.spec ?? {};
        const archiver = (spec.plugins ?? []).find((p: any) => p.name === BARMAN_CLOUD_PLUGIN && p.isWALArchiver === true && p.enabled !== false);
        if (!archiver && !spec.backup?.barmanObjectStore) {
            report(`${describe(args)}: spec.plugins has no enabled ${BARMAN_CLOUD_PLUGIN} entry with isWALArchiver: true; the cluster archives no WAL, so nothing bounds data loss`);
        }
        const text = spec.postgresql?.parameters?.archive_timeout ?? CNPG_DEFAULT_ARCHIVE_TIMEOUT;
        const seconds = parsePgSeconds(text);
        const limit = t.seconds("rpoDataCorruption") - t.seconds("walUploadAllowance");
        if (seconds === undefined || seconds === 0 || seconds > limit) {
            report(
                `${describe(args)}: postgresql.parameters.archive_timeout is ${JSON.stringify(text)}; the limit is ${formatDuration(limit)} ` +
                    `(target rpoDataCorruption ${t.text("rpoDataCorruption")} minus WAL upload allowance ${t.text("walUploadAllowance")})`,
            );
        }
    },
};

/** Barman retention like "30d", "4w", "3m" (months), in the fewest days it can mean. */
function retentionDays(policy: unknown): number | undefined {
    const m = /^([1-9][0-9]*)([dwm])$/.exec(String(policy ?? ""));
    return m ? Number(m[1]) * { d: 1, w: 7, m: 28 }[m[2] as "d" | "w" | "m"] : undefined;
}

export const archiveRetention: ResourceValidationPolicy = {
    name: "wal-archive-retention",
    description: "Object stores that archive WAL keep backups at least for the recovery window.",
    enforcementLevel: "mandatory",
    configSchema: targetsSchema("recoveryWindow"),
    validateResource: (args, report) => {
        if (args.type !== OBJECT_STORE_TYPE) {
            return args.notApplicable(`Policy only applies to resources of type '${OBJECT_STORE_TYPE}'`);
        }
        if (args.props.spec?.configuration?.wal === undefined) {
            return args.notApplicable("read-only object store (no wal settings): retention is applied where the archive is written");
        }
        const t = targetsOf(args);
        const windowDays = Math.ceil(t.seconds("recoveryWindow") / 86400);
        const days = retentionDays(args.props.spec?.retentionPolicy);
        if (days === undefined || days < windowDays) {
            report(
                `${describe(args)}: spec.retentionPolicy is ${JSON.stringify(args.props.spec?.retentionPolicy ?? null)}; the limit is at least ${windowDays}d ` +
                    `(target recoveryWindow ${t.text("recoveryWindow")})`,
            );
        }
    },
};

export const baseBackupFrequency: ResourceValidationPolicy = {
    name: "base-backup-frequency",
    description: "Scheduled base backups run at least as often as the policy allows.",
    enforcementLevel: "mandatory",
    configSchema: targetsSchema("maxBaseBackupInterval"),
    validateResource: (args, report) => {
        if (args.type !== SCHEDULED_BACKUP_TYPE) {
            return args.notApplicable(`Policy only applies to resources of type '${SCHEDULED_BACKUP_TYPE}'`);
        }
        const t = targetsOf(args);
        const schedule = String(args.props.spec?.schedule ?? "");
        const problem = cronProblem(schedule, "cloudnative-pg");
        if (problem) {
            report(`${describe(args)}: spec.schedule ${problem}`);
            return;
        }
        const gap = maxIntervalSeconds(schedule);
        if (gap > t.seconds("maxBaseBackupInterval")) {
            report(
                `${describe(args)}: spec.schedule "${schedule}" leaves up to ${formatDuration(gap)} between base backups; the limit is ` +
                    `${t.text("maxBaseBackupInterval")} (target maxBaseBackupInterval)`,
            );
        }
        if (args.props.spec?.suspend === true) {
            report(`${describe(args)}: spec.suspend is true; base backups are not running`);
        }
    },
};

export const archivingComplete: StackValidationPolicy = {
    name: "wal-archiving-complete",
    description: "Every PostgreSQL cluster has its archive object store (with retention) and a scheduled base backup.",
    enforcementLevel: "mandatory",
    validateStack: (args, report) => {
        const stores = ofType(args.resources, OBJECT_STORE_TYPE);
        const backups = ofType(args.resources, SCHEDULED_BACKUP_TYPE);
        for (const cluster of ofType(args.resources, CNPG_CLUSTER_TYPE)) {
            const name = cluster.props.metadata?.name;
            const archiver = (cluster.props.spec?.plugins ?? []).find((p: any) => p.isWALArchiver === true);
            const storeName = archiver?.parameters?.barmanObjectName;
            const store = stores.find((s) => s.props.metadata?.name === storeName);
            if (storeName && !store) {
                report(`${describe(cluster)}: archives to ObjectStore ${storeName}, which this stack does not declare`, cluster.urn);
            } else if (store && store.props.spec?.retentionPolicy === undefined) {
                report(`${describe(cluster)}: its archive ObjectStore ${storeName} has no retentionPolicy`, cluster.urn);
            }
            if (!backups.some((b) => b.props.spec?.cluster?.name === name)) {
                report(`${describe(cluster)}: no ScheduledBackup targets cluster ${name}; it would have no base backups`, cluster.urn);
            }
        }
    },
};

export const walArchivingPolicies = [walArchiving, archiveRetention, baseBackupFrequency, archivingComplete];
