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

export const managedRolesConnection: Check = (c) => {
    if (!c.database.manageRoles) {
        return [];
    }
    const problems: Problem[] = [];
    if (c.database.host === undefined) {
        problems.push(problem("database.host", `is required when ${k("database")}.manageRoles is true (the primary's address, reachable from where pulumi up runs)`));
    }
    if (c.databasePassword === undefined) {
        problems.push(problem("databasePassword", `is required when ${k("database")}.manageRoles is true: pulumi config set --secret ${k("databasePassword")} <password>`));
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

/** All checks, in the order their problems are reported. */
export const CHECKS: Record<string, Check> = {
    peerRegionDiffers,
    rpoWithinRecoveryWindow,
    rpoArchivable,
    noncurrentRetentionCoversWindow,
    longTermArchiveRetention,
    reservedPgParameters,
    baseBackupsWithinWindow,
    managedRolesConnection,
    passwordIsSecret,
    aliasNeedsZone,
    emergencyFailoverOnPrimary,
    notificationEndpoints,
    notifySomeone,
    derivedNamesFit,
};

export function runChecks(c: Settings, ctx: CheckContext): Problem[] {
    return Object.values(CHECKS).flatMap((check) => check(c, ctx));
}
