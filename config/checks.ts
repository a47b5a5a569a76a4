// Cross-setting validation rules the schema alone cannot express, one small named function per
// rule (as CloudNativePG's admission webhook does: validateXxx returning field errors). Each returns
// the problems it finds with the setting to change; test/unit/configChecks.test.ts tests each one.
// They run on the parsed settings, before anything is derived or declared.

import { configKey as k } from "../model/contract";
import { formatDuration } from "../model/duration";
import { minimumArchivableRpoSeconds } from "../model/rpo";
import { ScheduleIntervals } from "./derive";
import { nameLengthProblems } from "./nameLimits";
import { Problem, problem } from "./problem";
import { RestoreContext, restoreNameProblems, restoreSourceProblems, restoreTargetTimeProblems } from "./restore";
import { Settings } from "./schema";

/** PostgreSQL settings drstack derives or owns, and which setting owns each. */
export const RESERVED_PG_PARAMETERS: Record<string, string> = {
    archive_timeout: `drstack derives archive_timeout from ${k("rpo")}`,
    archive_mode: "the Barman Cloud plugin turns WAL archiving on",
    archive_command: "the Barman Cloud plugin sets the archive command",
    wal_level: `use ${k("postgres")}.walLevel (replica or logical)`,
    max_slot_wal_keep_size: `use ${k("postgres")}.maxSlotWalKeepSize`,
};

export interface CheckContext {
    /** aws:region of the stack. */
    region: string;
    /** Tells whether a config key holds a Pulumi secret. */
    isSecret: (key: string) => boolean;
    /** Each schedule's longest gap between runs (config/derive.ts). */
    intervals: ScheduleIntervals;
    /** The clock, in epoch milliseconds: parseConfig's caller passes it (restore targets may not be in the future). */
    nowMs: number;
}

export type Check = (c: Settings, ctx: CheckContext) => Problem[];

export const peerRegionDiffers: Check = (c, { region }) =>
    c.peerRegion === region ? [problem("peerRegion", `"${c.peerRegion}" is this stack's own region (aws:region); the peer must be a different region`)] : [];

export const rpoWithinRecoveryWindow: Check = (c) =>
    (["region", "data-corruption"] as const)
        .filter((disruption) => c.rpo[disruption] > c.recoveryWindow)
        .map((disruption) =>
            problem(
                `rpo.${disruption}`,
                `${formatDuration(c.rpo[disruption])} is larger than ${k("recoveryWindow")} ${formatDuration(c.recoveryWindow)}; ` +
                    "backups would be deleted before the RPO is reached: raise the recovery window or lower the RPO",
            ),
        );

export const rpoArchivable: Check = (c) => {
    const minimum = minimumArchivableRpoSeconds(c.walUploadAllowance);
    return c.rpo["data-corruption"] < minimum
        ? [
              problem(
                  "rpo.data-corruption",
                  `${formatDuration(c.rpo["data-corruption"])} cannot be met by WAL archiving; the minimum is ${formatDuration(minimum)} ` +
                      `(archive_timeout >= 10s plus ${k("walUploadAllowance")} ${formatDuration(c.walUploadAllowance)})`,
              ),
          ]
        : [];
};

export const noncurrentRetentionCoversWindow: Check = (c) => {
    const kept = c.backupBucket.noncurrentVersionRetention;
    return kept !== undefined && kept < c.recoveryWindow
        ? [
              problem(
                  "backupBucket.noncurrentVersionRetention",
                  `${formatDuration(kept)} is shorter than ${k("recoveryWindow")} ${formatDuration(c.recoveryWindow)}; ` +
                      "overwritten or deleted backups must stay restorable for the whole window",
              ),
          ]
        : [];
};

export const longTermArchiveRetention: Check = (c) => {
    const archive = c.backupBucket.longTermArchive;
    const problems: Problem[] = [];
    if (archive.retention <= archive.transitionAfter) {
        problems.push(
            problem("backupBucket.longTermArchive.retention", `${formatDuration(archive.retention)} must be longer than transitionAfter ${formatDuration(archive.transitionAfter)}`),
        );
    }
    if (archive.retention < c.recoveryWindow) {
        problems.push(
            problem("backupBucket.longTermArchive.retention", `${formatDuration(archive.retention)} is shorter than ${k("recoveryWindow")} ${formatDuration(c.recoveryWindow)}`),
        );
    }
    return problems;
};

export const reservedPgParameters: Check = (c) =>
    Object.keys(c.postgres.parameters)
        .filter((name) => name in RESERVED_PG_PARAMETERS)
        .map((name) => problem(`postgres.parameters.${name}`, `drstack sets ${name} itself (${RESERVED_PG_PARAMETERS[name]}); remove it here`));

export const baseBackupsWithinWindow: Check = (c, { intervals }) => {
    const interval = intervals.baseBackup;
    return interval > c.recoveryWindow
        ? [
              problem(
                  "backups.baseBackupSchedule",
                  `"${c.backups.baseBackupSchedule}" leaves up to ${formatDuration(interval)} between base backups, ` +
                      `more than ${k("recoveryWindow")} ${formatDuration(c.recoveryWindow)}; point-in-time restore could not reach back that far`,
              ),
          ]
        : [];
};

/** drstack:database.manageRoles was replaced: the roles are CloudNativePG managed roles on every deploy. */
export const manageRolesRemoved: Check = (c) =>
    c.database.manageRoles === undefined
        ? []
        : [
              problem(
                  "database.manageRoles",
                  `is no longer a setting: the jobs' roles (${k("database")}.monitoringRole, verificationRole) are now CloudNativePG managed roles, ` +
                      `declared on every deploy with no database connection. Remove it; to have pulumi grant CONNECT on the backed-up databases ` +
                      `over a connection, set ${k("database")}.manageGrants: true with ${k("database")}.host and ${k("databasePassword")}`,
              ),
          ];

export const grantsConnection: Check = (c) => {
    if (!c.database.manageGrants) {
        return [];
    }
    const problems: Problem[] = [];
    if (c.database.host === undefined) {
        problems.push(problem("database.host", `is required when ${k("database")}.manageGrants is true (the primary's address, reachable from where pulumi up runs)`));
    }
    if (c.databasePassword === undefined) {
        problems.push(problem("databasePassword", `is required when ${k("database")}.manageGrants is true: pulumi config set --secret ${k("databasePassword")} <password>`));
    }
    return problems;
};

export const passwordIsSecret: Check = (c, { isSecret }) =>
    c.databasePassword !== undefined && !isSecret(k("databasePassword"))
        ? [problem("databasePassword", `is stored in plaintext; remove it and set it again with: pulumi config set --secret ${k("databasePassword")} <password>`)]
        : [];

export const aliasNeedsZone: Check = (c) =>
    c.dns?.endpointType === "alias" && c.dns.aliasZoneId === undefined
        ? [problem("dns.aliasZoneId", `is required when ${k("dns")}.endpointType is alias (the load balancer's canonical hosted zone id)`)]
        : [];

export const emergencyFailoverOnPrimary: Check = (c) =>
    c.emergencyFailover && c.role !== "primary"
        ? [problem("emergencyFailover", `true only makes sense with ${k("role")}: primary (it confirms promoting this stack while its peer still reports primary)`)]
        : [];

export const homeRegionInPair: Check = (c, { region }) =>
    c.homeRegion !== region && c.homeRegion !== c.peerRegion
        ? [problem("homeRegion", `"${c.homeRegion}" is neither this stack's region (${region}) nor ${k("peerRegion")} (${c.peerRegion}); set it to the region that is primary in normal operation, the same in both stacks`)]
        : [];

/**
 * Generations (scripts/README.md "Generations"): every promotion takes a generation above both
 * stacks' current ones, and the home region starts at 0, so a promoted non-home stack is at 1 or
 * more. The peer's generation is checked against this one where it is readable (components/postgres/promotion.ts).
 */
export const promotionGeneration: Check = (c, { region }) =>
    c.role === "primary" && c.homeRegion !== region && c.promotion.generation === 0
        ? [
              problem(
                  "promotion.generation",
                  `is 0, but this stack is not the home region (${k("homeRegion")} ${c.homeRegion}) and is promoted: a promotion takes a generation above both stacks' current ones, ` +
                      `e.g. pulumi config set --path ${k("promotion.generation")} 1 (one above the peer's: pulumi stack output promotionGeneration -s <peer>)`,
              ),
          ]
        : [];

/** The fence marker records when the emergency failover was declared; the program cannot invent a stable time. */
export const emergencyFailoverTime: Check = (c) =>
    c.emergencyFailover && c.promotion.at === undefined
        ? [problem("promotion.at", `is required with ${k("emergencyFailover")}: true (the fence marker records it): pulumi config set --path ${k("promotion.at")} "$(date -u +%FT%TZ)"`)]
        : [];

/** What SNS accepts per protocol (SNS Subscribe API, Endpoint parameter); sms in E.164. */
const ENDPOINTS: Record<string, { pattern: RegExp; allowed: string }> = {
    email: { pattern: /^[^\s@]+@[^\s@]+\.[^\s@]+$/, allowed: "an email address like oncall@acme.example.com" },
    https: { pattern: /^https:\/\/[^\s/]+\.[^\s]+$/, allowed: "an https:// URL" },
    sqs: { pattern: /^arn:aws[a-z-]*:sqs:[a-z0-9-]+:\d{12}:[\w-]+$/, allowed: "an SQS queue ARN" },
    lambda: { pattern: /^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[\w-]+(:[\w-]+)?$/, allowed: "a Lambda function ARN" },
    sms: { pattern: /^\+[1-9]\d{6,14}$/, allowed: "a phone number in E.164 form like +14155550100" },
};

export const notificationEndpoints: Check = (c) =>
    c.alerts.notify.flatMap((n, i) => {
        const rule = ENDPOINTS[n.protocol];
        return rule.pattern.test(n.endpoint)
            ? []
            : [problem(`alerts.notify[${i}].endpoint`, `${JSON.stringify(n.endpoint)} is not a valid ${n.protocol} endpoint; use ${rule.allowed}`)];
    });

/** A stack whose alarms page nobody says so: an empty or missing notify list is a mistake unless confirmed. */
export const notifySomeone: Check = (c) =>
    c.alerts.notify.length === 0 && !c.alerts.allowNoNotify
        ? [
              problem(
                  "alerts.notify",
                  "is empty: the CloudWatch alarms would notify nobody. Add at least one subscription, e.g. " +
                      `[{ protocol: email, endpoint: oncall@acme.example.com }], or set ${k("alerts")}.allowNoNotify: true to confirm that nobody is paged`,
              ),
          ]
        : [];

/** Every name derived from the prefix fits the API that receives it. */
export const derivedNamesFit: Check = (c, { region }) => nameLengthProblems(c.prefix, [region, c.peerRegion]);

function restoreContext(c: Settings, ctx: CheckContext): RestoreContext {
    return {
        prefix: c.prefix,
        role: c.role,
        region: ctx.region,
        homeRegion: c.homeRegion,
        generation: c.promotion.generation,
        recoveryWindowSeconds: c.recoveryWindow,
        nowMs: ctx.nowMs,
    };
}

/** drstack:restore[i].target.time: an RFC 3339 timestamp with zone, not in the future, inside drstack:recoveryWindow. */
export const restoreTargetTimes: Check = (c, ctx) => restoreTargetTimeProblems(c.restore, restoreContext(c, ctx));

/** drstack:restore[i].source: an archive this region's bucket holds for the stack's role. */
export const restoreSourceExists: Check = (c, ctx) => restoreSourceProblems(c.restore, restoreContext(c, ctx));

/** drstack:restore[i].name: unique, and every name derived from it fits its API. */
export const restoreNamesFit: Check = (c, ctx) => restoreNameProblems(c.restore, restoreContext(c, ctx));

/** All checks, in the order their problems are reported. */
export const CHECKS: Record<string, Check> = {
    peerRegionDiffers,
    rpoWithinRecoveryWindow,
    rpoArchivable,
    noncurrentRetentionCoversWindow,
    longTermArchiveRetention,
    reservedPgParameters,
    baseBackupsWithinWindow,
    manageRolesRemoved,
    grantsConnection,
    passwordIsSecret,
    aliasNeedsZone,
    emergencyFailoverOnPrimary,
    homeRegionInPair,
    promotionGeneration,
    emergencyFailoverTime,
    notificationEndpoints,
    notifySomeone,
    derivedNamesFit,
    restoreTargetTimes,
    restoreSourceExists,
    restoreNamesFit,
};

export function runChecks(c: Settings, ctx: CheckContext): Problem[] {
    return Object.values(CHECKS).flatMap((check) => check(c, ctx));
}
