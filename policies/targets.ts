// The recovery targets the pack enforces, from the pack's config (policy-config.json), and the
// helpers every policy module shares. Durations are written as in stack config ("5m", "30d")
// and read with the same parser and RPO arithmetic as the program (components/duration.ts,
// components/rpo.ts), so the pack and the program cannot disagree about what "5m" means.

import { PolicyConfigSchema, ResourceValidationArgs, StackValidationArgs } from "@pulumi/policy";
import { formatDuration, parseDuration } from "../model/duration";

/** Every target a policy may need, with the defaults of the shipped stacks. */
export const TARGET_PROPERTIES = {
    rpoRegion: { type: "string", default: "5m", description: "RPO for the loss of a region" },
    rpoDataCorruption: { type: "string", default: "5m", description: "RPO for corruption / accidental deletion (point-in-time restore)" },
    rtoRegion: { type: "string", default: "30m", description: "RTO for the loss of a region" },
    rtoDataCorruption: { type: "string", default: "1h", description: "RTO for a point-in-time restore" },
    recoveryWindow: { type: "string", default: "30d", description: "How far back point-in-time restore must reach" },
    walUploadAllowance: { type: "string", default: "30s", description: "Time allowed to upload one WAL segment" },
    requireReplicationTimeControl: { type: "boolean", default: true, description: "S3 replication must use RTC (15-minute SLA)" },
    requireObjectLock: { type: "boolean", default: true, description: "Backup buckets must use S3 Object Lock" },
    minObjectLockRetention: { type: "string", default: "7d", description: "Shortest acceptable Object Lock default retention" },
    maxBaseBackupInterval: { type: "string", default: "1d", description: "Longest acceptable gap between base backups" },
    maxVerificationInterval: { type: "string", default: "7d", description: "Longest acceptable gap between restore verifications" },
} as const;

export type TargetKey = keyof typeof TARGET_PROPERTIES;

/** A configSchema holding just the targets a policy reads. */
export function targetsSchema(...keys: TargetKey[]): PolicyConfigSchema {
    const properties: PolicyConfigSchema["properties"] = {};
    for (const key of keys) {
        properties[key] = { ...TARGET_PROPERTIES[key] } as PolicyConfigSchema["properties"][string];
    }
    return { properties };
}

/** Duration targets in seconds (and their text, for messages), booleans as is. */
export interface Targets {
    seconds(key: TargetKey): number;
    text(key: TargetKey): string;
    flag(key: TargetKey): boolean;
}

export function targetsOf(args: ResourceValidationArgs | StackValidationArgs): Targets {
    const config = args.getConfig<Record<string, unknown>>();
    const value = (key: TargetKey) => config[key] ?? TARGET_PROPERTIES[key].default;
    return {
        seconds(key) {
            const text = String(value(key));
            const seconds = parseDuration(text);
            if (seconds === undefined) {
                throw new Error(`policy config ${key}: "${text}" is not a duration like 5m, 30d`);
            }
            return seconds;
        },
        text: (key) => String(value(key)),
        flag: (key) => value(key) === true || value(key) === "true",
    };
}

export { formatDuration };

/** PostgreSQL time settings: a bare number is seconds; units ms, s, min, h, d. */
export function parsePgSeconds(value: unknown): number | undefined {
    const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|min|h|d)?\s*$/.exec(String(value));
    if (!m) {
        return undefined;
    }
    const factor: Record<string, number> = { ms: 0.001, s: 1, min: 60, h: 3600, d: 86400 };
    return Number(m[1]) * factor[m[2] ?? "s"];
}

/** "<resource> (<type>)": how violation messages name a resource. */
export function describe(args: { name: string; type: string }): string {
    return `${args.name} (${args.type.split(":").pop()})`;
}
