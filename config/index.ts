// The stack configuration, Pulumi-free: schema, checks, derivation, reading stack files.
// The Pulumi adapter (loadConfig) is config/pulumi.ts, imported only by the program.
export { CHECKS, CheckContext, Check, RESERVED_PG_PARAMETERS, runChecks } from "./checks";
export { BACKUP_GRACE_SECONDS, derive, DrConfig, ScheduleIntervals, scheduleIntervals, Topology, VERIFICATION_GRACE_SECONDS } from "./derive";
export { FlatConfig, SecretKeyPredicate } from "./flat";
export { RestorePlan, restorePlans, RestoreSetting } from "./restore";
export { derivedNames, nameLengthProblems } from "./nameLimits";
export { parseConfig } from "./parse";
export { ConfigError, Problem } from "./problem";
export {
    ARCHIVE_STORAGE_CLASSES,
    MIN_DATA_VOLUME,
    MIN_WAL_VOLUME,
    NOTIFY_PROTOCOLS,
    OBJECT_LOCK_MODES,
    REPLICA_STORAGE_CLASSES,
    WAL_COMPRESSIONS,
    DATA_COMPRESSIONS,
    Role,
    ROLES,
    Settings,
    schema,
} from "./schema";
export { listStacks, PROJECT_ROOT, readStackConfig, readStackFile, SECRET_PLACEHOLDER, stackFilePath, flattenStackConfig } from "./stackFile";
