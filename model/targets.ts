// The recovery targets the policy pack enforces, stated once: each names the stack setting it
// mirrors (so a violation can tell the user which `drstack:` key to change), its default (the
// shipped stacks' value, the same default the config schema uses where there is one) and what it
// means. policies/targets.ts turns these into the pack's configSchema; policy-config.json only
// overrides what a user changes.

export interface TargetDefinition {
    type: "string" | "boolean";
    default: string | boolean;
    description: string;
    /** The stack setting (under the drstack namespace) that has to satisfy this target. */
    setting: string;
}

export const TARGETS = {
    rpoRegion: { type: "string", default: "5m", description: "RPO for the loss of a region", setting: "rpo.region" },
    rpoDataCorruption: { type: "string", default: "5m", description: "RPO for corruption / accidental deletion (point-in-time restore)", setting: "rpo.data-corruption" },
    rtoRegion: { type: "string", default: "30m", description: "RTO for the loss of a region", setting: "rto.region" },
    rtoDataCorruption: { type: "string", default: "1h", description: "RTO for a point-in-time restore", setting: "rto.data-corruption" },
    recoveryWindow: { type: "string", default: "30d", description: "How far back point-in-time restore must reach", setting: "recoveryWindow" },
    walUploadAllowance: { type: "string", default: "30s", description: "Time allowed to upload one WAL segment", setting: "walUploadAllowance" },
    requireReplicationTimeControl: { type: "boolean", default: true, description: "S3 replication must use RTC (15-minute SLA)", setting: "replication.replicationTimeControl" },
    requireObjectLock: { type: "boolean", default: true, description: "Backup buckets must use S3 Object Lock", setting: "backupBucket.objectLock" },
    minObjectLockRetention: { type: "string", default: "7d", description: "Shortest acceptable Object Lock default retention", setting: "backupBucket.objectLock.retention" },
    maxBaseBackupInterval: { type: "string", default: "1d", description: "Longest acceptable gap between base backups", setting: "backups.baseBackupSchedule" },
    maxVerificationInterval: { type: "string", default: "7d", description: "Longest acceptable gap between restore verifications", setting: "backups.verificationSchedule" },
} as const satisfies Record<string, TargetDefinition>;

export type TargetKey = keyof typeof TARGETS;
