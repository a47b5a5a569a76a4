// Point-in-time restore, Pulumi-free: what a `drstack:restore` target means, how it becomes
// CloudNativePG's `bootstrap.recovery.recoveryTarget`, the PostgreSQL recovery settings CloudNativePG
// writes for it, and when a target time is acceptable. The config checks, the component, the policy
// pack and the drill all use these functions, so they cannot disagree about a target.

import { LABELS } from "./contract";

/** A restore target as written in `drstack:restore[i].target`. */
export type RestoreTarget = "latest" | { time: string } | { lsn: string } | { name: string; backupId: string };

/** Where a restore reads from: this region's own archive, or the peer's archive replicated into this region's bucket. */
export const RESTORE_SOURCES = ["self", "peer"] as const;
export type RestoreSource = (typeof RESTORE_SOURCES)[number];

/**
 * CloudNativePG's RecoveryTarget (api/v1/cluster_types.go @v1.30.0), the fields drstack sets.
 * "latest" has no recoveryTarget at all: recovery replays every archived WAL, then promotes.
 */
export interface CnpgRecoveryTarget {
    targetTime?: string;
    targetLSN?: string;
    targetName?: string;
    /** Required by CloudNativePG's webhook for targetName: only time and LSN targets let it pick the base backup. */
    backupID?: string;
}

/** A restore name: a DNS-1123 label (it becomes part of the Cluster's name). */
export const RESTORE_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** A PostgreSQL LSN as CloudNativePG's webhook parses it (types.LSN): two hex numbers, e.g. 0/16B3748. */
export const LSN = /^[0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8}$/;

/** A barman backup id (barman-cloud-backup-list's ID column), e.g. 20261124T020000. */
export const BACKUP_ID = /^\d{8}T\d{6}$/;

/** PostgreSQL's MAXFNAMELEN: restore point names are shorter than 64 bytes (CloudNativePG's webhook mirrors it). */
export const MAX_RESTORE_POINT_NAME_BYTES = 63;

/**
 * RFC 3339 date-time with a mandatory zone (Z or ±hh:mm). CloudNativePG also accepts PostgreSQL
 * timestamps and reads one without a zone as UTC (docs/src/recovery.md @v1.30.0, "Always specify an
 * explicit timezone"): drstack accepts only the unambiguous form.
 */
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;

/** The instant of an RFC 3339 timestamp with zone in epoch milliseconds, or why it is not one. */
export function parseRecoveryTime(text: string): { ms: number } | { problem: string } {
    const m = RFC3339.exec(text);
    if (!m) {
        return /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(text)
            ? { problem: `${JSON.stringify(text)} has no time zone; add Z or an offset, e.g. ${text.replace(" ", "T")}Z` }
            : { problem: `${JSON.stringify(text)} is not an RFC 3339 timestamp; use e.g. 2026-11-24T09:41:00Z or 2026-11-24T10:41:00+01:00` };
    }
    const [, y, mo, d, h, mi, s] = m.map(Number);
    const ms = Date.parse(text.toUpperCase().replace(" ", "T"));
    // Date.parse rolls 2026-02-30 over to March: compare the fields it kept.
    const check = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
    if (Number.isNaN(ms) || check.getUTCMonth() !== mo - 1 || check.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) {
        return { problem: `${JSON.stringify(text)} is not a valid date and time` };
    }
    return { ms };
}

/**
 * Why a target time cannot be restored to, or undefined when it can: it must parse, must not be
 * after `nowMs` (nothing is archived yet), and must not be older than the recovery window (base
 * backups and WAL before it are deleted).
 */
export function recoveryTimeProblem(text: string, nowMs: number, recoveryWindowSeconds: number, windowText: string): string | undefined {
    const parsed = parseRecoveryTime(text);
    if ("problem" in parsed) {
        return parsed.problem;
    }
    const now = new Date(nowMs).toISOString();
    if (parsed.ms > nowMs) {
        return `${JSON.stringify(text)} is in the future (now is ${now}); a restore can only reach what is already archived`;
    }
    const oldest = nowMs - recoveryWindowSeconds * 1000;
    if (parsed.ms < oldest) {
        return (
            `${JSON.stringify(text)} is older than the recovery window ${windowText} allows (the oldest restorable time is ` +
            `${new Date(oldest).toISOString()}, now is ${now}); base backups and WAL before it are deleted`
        );
    }
    return undefined;
}

/** The target as CloudNativePG's recoveryTarget, or undefined for "latest" (replay everything archived). */
export function recoveryTargetOf(target: RestoreTarget): CnpgRecoveryTarget | undefined {
    if (target === "latest") {
        return undefined;
    }
    if ("time" in target) {
        return { targetTime: target.time };
    }
    if ("lsn" in target) {
        return { targetLSN: target.lsn };
    }
    return { targetName: target.name, backupID: target.backupId };
}

/** A target in one line, for stack outputs and messages. */
export function describeTarget(target: RestoreTarget): string {
    if (target === "latest") {
        return "latest (everything archived)";
    }
    if ("time" in target) {
        return `time ${target.time}`;
    }
    if ("lsn" in target) {
        return `lsn ${target.lsn}`;
    }
    return `restore point ${target.name} (base backup ${target.backupId})`;
}

/**
 * A target time as CloudNativePG writes it into recovery_target_time (ConvertToPostgresFormat in
 * cloudnative-pg/machinery pkg/postgres/time, v0.5.0 as CloudNativePG 1.30.0 pins it):
 * "YYYY-MM-DD hh:mm:ss.ffffff±hh:mm", the fraction cut to microseconds, and Z written as +00:00.
 * Z must go: PostgreSQL refuses "...Z" in recovery_target_time at startup (seen with PostgreSQL 15:
 * "invalid value for parameter", then FATAL), while it takes +00:00. Text that is not an RFC 3339
 * time with zone is returned unchanged, as upstream does; the config refuses such targets anyway.
 */
export function postgresTargetTime(text: string): string {
    const m = RFC3339.exec(text);
    if (!m) {
        return text;
    }
    const [, y, mo, d, h, mi, sec, fraction, zone] = m;
    const micros = (fraction ?? ".").slice(1).padEnd(6, "0").slice(0, 6);
    return `${y}-${mo}-${d} ${h}:${mi}:${sec}.${micros}${/^z$/i.test(zone) ? "+00:00" : zone}`;
}

/**
 * The PostgreSQL recovery settings CloudNativePG writes for a recoveryTarget
 * (RecoveryTarget.BuildPostgresOptions in api/v1/cluster_funcs.go, plus recovery_target_action =
 * promote from pkg/management/postgres/restore.go, @v1.30.0). The drill applies them to a local
 * PostgreSQL (drill/declaredRestore.ts).
 */
export function postgresRecoverySettings(target: CnpgRecoveryTarget | undefined): Record<string, string> {
    const settings: Record<string, string> = { recovery_target_action: "promote" };
    if (target === undefined) {
        return settings;
    }
    if (target.targetName) {
        settings.recovery_target_name = target.targetName;
    }
    if (target.targetLSN) {
        settings.recovery_target_lsn = target.targetLSN;
    }
    if (target.targetTime) {
        settings.recovery_target_time = postgresTargetTime(target.targetTime);
    }
    // CloudNativePG's default (exclusive unset): stop just after the target.
    settings.recovery_target_inclusive = "true";
    return settings;
}

/**
 * Whether a CloudNativePG Cluster (its declared properties) is a drstack point-in-time restore: it
 * carries the restore label. The policy pack holds such clusters to the restore policy (recovery
 * bootstrap, no archiving) instead of the archiving and role policies of the region's cluster.
 */
export function isRestoreCluster(props: { metadata?: { labels?: Record<string, string> } } | undefined): boolean {
    return props?.metadata?.labels?.[LABELS.restore] !== undefined;
}
