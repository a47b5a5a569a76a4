// `drstack:restore`: point-in-time restores declared as stack settings. The schema of one entry,
// the checks that run before any resource is declared (target time valid, not in the future, inside
// the recovery window; the source exists for the stack's role; names unique and short enough), and
// the derivation into a RestorePlan: everything the component (components/postgres/restore.ts)
// declares and the drill applies locally, computed once here from the settings.

import { z } from "zod";
import { clusterObjectNames, configKey as k } from "../model/contract";
import { formatDuration } from "../model/duration";
import {
    DerivedName,
    NAME_LIMITS as L,
    AUTONAME_SUFFIX_LENGTH,
    backupBucketName,
    clusterName,
    recoveryJobName,
    restoreClusterName,
    restoreIamRoleLogicalName,
} from "../model/naming";
import {
    BACKUP_ID,
    CnpgRecoveryTarget,
    describeTarget,
    LSN,
    MAX_RESTORE_POINT_NAME_BYTES,
    RESTORE_NAME,
    RESTORE_SOURCES,
    RestoreSource,
    RestoreTarget,
    recoveryTargetOf,
    recoveryTimeProblem,
} from "../model/restore";
import { count, oneOf, show } from "./fields";
import { Problem, problem } from "./problem";

const TARGET_HELP =
    'one of: latest; { time: "2026-11-24T09:41:00Z" } (RFC 3339 with a zone); { lsn: "0/16B3748" }; ' +
    '{ name: <restore point>, backupId: <base backup id taken before it, e.g. 20261124T020000> }';

const target = z.union(
    [
        z.literal("latest"),
        z.strictObject({ time: z.string() }),
        z.strictObject({ lsn: z.string().regex(LSN, { message: "is not an LSN like 0/16B3748" }) }),
        z.strictObject({
            name: z
                .string()
                .min(1)
                .refine((n) => Buffer.byteLength(n) <= MAX_RESTORE_POINT_NAME_BYTES && !/[\x00-\x1f\x7f]/.test(n), {
                    message: `must be 1-${MAX_RESTORE_POINT_NAME_BYTES} bytes without control characters (PostgreSQL's limit on restore point names)`,
                }),
            // CloudNativePG's webhook requires backupID with targetName: only time and LSN targets let it pick the base backup.
            backupId: z.string().regex(BACKUP_ID, { message: "is not a barman backup id like 20261124T020000 (barman-cloud-backup-list)" }),
        }),
    ],
    { error: (issue) => `${show(issue.input)} is not a restore target; use ${TARGET_HELP}` },
);

/** One entry of drstack:restore. */
export const restoreEntry = z.strictObject({
    /** Names the restored Cluster `<cluster>-restore-<name>`: a DNS-1123 label. */
    name: z.string().regex(RESTORE_NAME, { message: "must be lowercase letters, digits and hyphens, starting and ending with a letter or digit (it names a Kubernetes Cluster)" }),
    target,
    /** self: this region's own archive; peer: the peer cluster's archive as replicated into this region's bucket. */
    source: oneOf(RESTORE_SOURCES),
    /** PostgreSQL instances of the restored cluster: one is enough to extract rows. */
    instances: count(1, 9).default(1),
});

/** drstack:restore: the list of restores the stack declares (none by default). */
export const restoreSettings = z.array(restoreEntry).default([]);

export type RestoreSetting = z.output<typeof restoreEntry>;

/** What checks about restores need from the stack: its role, region, the window and the clock. */
export interface RestoreContext {
    prefix: string;
    role: "primary" | "standby";
    region: string;
    /** drstack:homeRegion and drstack:promotion.generation: whether the peer was ever primary. */
    homeRegion: string;
    generation: number;
    recoveryWindowSeconds: number;
    /** The clock, injected: the config checks get it from parseConfig's caller. */
    nowMs: number;
}

const key = (i: number, field?: string) => `restore[${i}]${field ? `.${field}` : ""}`;

/** Target times parse, are not in the future and lie inside drstack:recoveryWindow. */
export function restoreTargetTimeProblems(restores: RestoreSetting[], ctx: RestoreContext): Problem[] {
    return restores.flatMap((r, i) => {
        if (r.target === "latest" || !("time" in r.target)) {
            return [];
        }
        const why = recoveryTimeProblem(r.target.time, ctx.nowMs, ctx.recoveryWindowSeconds, `${k("recoveryWindow")} ${formatDuration(ctx.recoveryWindowSeconds)}`);
        return why ? [problem(key(i, "target.time"), why)] : [];
    });
}

/**
 * The source must hold an archive with a base backup in this region's bucket:
 * - `self` on a primary stack: its own cluster archives and takes base backups;
 * - `peer` whenever the peer cluster was once primary: its archive, with base backups, is replicated
 *   into this region's bucket (replication is role-independent, DESIGN.md) and stays there when the
 *   peer's region is lost. That is always so on a standby stack, and on a primary stack that was
 *   promoted (outside the home region, or a generation above 0): after an emergency failover the
 *   rows a mistake removed before the failover are only in the old primary's replicated archive;
 * - `self` on a standby stack is refused: this region's cluster is a replica and has base backups of
 *   its own only if it was once primary, which drstack cannot know. On the home stack never promoted
 *   (generation 0), `peer` is a replica's archive without base backups, and is refused.
 */
export function restoreSourceProblems(restores: RestoreSetting[], ctx: RestoreContext): Problem[] {
    const peerWasPrimary = ctx.role === "standby" || ctx.region !== ctx.homeRegion || ctx.generation > 0;
    const usable = (source: RestoreSource) => (source === "self" ? ctx.role === "primary" : peerWasPrimary);
    return restores.flatMap((r, i) =>
        usable(r.source)
            ? []
            : [
                  problem(
                      key(i, "source"),
                      ctx.role === "primary"
                          ? `"peer" has no archive to restore from on a primary stack that was never promoted (the peer cluster has always been the replica); use "self": this cluster's own archive in ${backupBucketName(ctx.prefix, ctx.region)}`
                          : `"self" is refused on a standby stack: this region's cluster is a replica and has base backups of its own only if it was once primary; ` +
                                `use "peer": the primary's archive, replicated into ${backupBucketName(ctx.prefix, ctx.region)}`,
                  ),
              ],
    );
}

/** The names a restore derives, each with the limit of the API receiving it. */
export function restoreDerivedNames(prefix: string, region: string, restore: string): DerivedName[] {
    const cluster = restoreClusterName(clusterName(prefix, region), restore);
    const named = (what: string, name: string, limit: number, suffix = 0): DerivedName => ({ what, name, length: name.length + suffix, limit });
    return [
        named("the restored Cluster (a label value)", cluster, L.kubernetesLabelValue),
        named("its read-write Service", clusterObjectNames(cluster).rwService, L.kubernetesService),
        named("its recovery Job (a label value)", recoveryJobName(cluster), L.kubernetesLabelValue),
        named("its IAM role (auto-named: +8 characters)", restoreIamRoleLogicalName(prefix, restore), L.iamRole, AUTONAME_SUFFIX_LENGTH),
    ];
}

/** Names are unique, and every name derived from them fits its API. */
export function restoreNameProblems(restores: RestoreSetting[], ctx: RestoreContext): Problem[] {
    const problems: Problem[] = [];
    restores.forEach((r, i) => {
        const first = restores.findIndex((other) => other.name === r.name);
        if (first !== i) {
            problems.push(problem(key(i, "name"), `"${r.name}" is already used by ${k(key(first))}; each restore needs its own name`));
            return;
        }
        for (const n of restoreDerivedNames(ctx.prefix, ctx.region, r.name).filter((d) => d.length > d.limit)) {
            problems.push(
                problem(key(i, "name"), `"${r.name}" makes ${n.what} "${n.name}" ${n.length} characters long; its API allows ${n.limit}: shorten the name by ${n.length - n.limit} or more`),
            );
        }
    });
    return problems;
}

/** Everything a restore declares, derived once: the component, the outputs and the drill read it. */
export interface RestorePlan {
    /** drstack:restore[i].name */
    name: string;
    /** The restored CloudNativePG Cluster. */
    clusterName: string;
    source: RestoreSource;
    /** The barman server name (key prefix) recovered from: the source cluster's name. */
    serverName: string;
    /** The bucket holding that archive: always this region's own. */
    bucket: string;
    /** The plugin ObjectStore read from: the source cluster's store in this region. */
    objectStore: string;
    target: RestoreTarget;
    /** bootstrap.recovery.recoveryTarget; undefined for "latest". */
    recoveryTarget?: CnpgRecoveryTarget;
    /** The target in words (stack output). */
    targetText: string;
    instances: number;
    /** CloudNativePG's generated app Secret and read-write Service of the restored cluster. */
    appSecret: string;
    rwService: string;
}

/**
 * The plans of a stack's restores. `names` are the stack's own and peer cluster and bucket names
 * (DrConfig.names). The drill calls this with the settings it would deploy.
 */
export function restorePlans(restores: RestoreSetting[], names: { cluster: string; peerCluster: string; bucket: string }): RestorePlan[] {
    return restores.map((r) => {
        const source = r.source === "self" ? names.cluster : names.peerCluster;
        const objects = clusterObjectNames(source);
        const cluster = restoreClusterName(names.cluster, r.name);
        return {
            name: r.name,
            clusterName: cluster,
            source: r.source,
            serverName: source,
            bucket: names.bucket,
            // Both stores already exist and point at this region's bucket (components/postgres/cluster.ts):
            // the own archive's, and the read-only one of the peer's replicated copy.
            objectStore: r.source === "self" ? objects.archiveObjectStore : objects.replicatedArchiveObjectStore,
            target: r.target,
            recoveryTarget: recoveryTargetOf(r.target),
            targetText: describeTarget(r.target),
            instances: r.instances,
            appSecret: clusterObjectNames(cluster).appSecret,
            rwService: clusterObjectNames(cluster).rwService,
        };
    });
}
