// What the program DECLARES for a `drstack:restore`, read the way the drill applies it: the real
// program runs under the Pulumi mocks with the restore set, and the drill takes the declared
// recovery Cluster's `spec.bootstrap.recovery` (the target; the source external cluster, whose
// plugin parameters name the ObjectStore, hence the bucket, and the barman server name) and turns
// it into a local recovery: barman-cloud-restore of the base backup CloudNativePG would pick, plus a
// restore_command and the recovery settings model/restore.ts says CloudNativePG writes. Nothing the
// Cluster does not declare is added; a declared field the drill cannot apply is an error.
import "../tools/offline/mocks";
import { BARMAN_CLOUD_PLUGIN, LABELS, RESOURCE_TYPES } from "../model/contract";
import { CnpgRecoveryTarget, isRestoreCluster, postgresRecoverySettings } from "../model/restore";
import { RestoreSetting } from "../config/restore";
import { Overrides, runProgram } from "../tools/offline/program";
import { peersFromStackFiles, unwrapSecrets } from "../tools/policyCheck";

export interface DeclaredRestore {
    stack: string;
    /** The restore Cluster's metadata.name. */
    cluster: string;
    /** The ObjectStore's destinationPath (s3://bucket/...), and its bucket. */
    destinationPath: string;
    bucket: string;
    /** The barman server name read (the plugin parameter serverName of the source external cluster). */
    serverName: string;
    /** bootstrap.recovery.recoveryTarget; undefined: replay everything archived. */
    recoveryTarget?: CnpgRecoveryTarget;
}

type Obj = Record<string, any>;

/**
 * Declared fields that are not recovery settings, and why the drill does not apply them; every
 * other field of the Cluster's spec is an error. Recovery itself is in bootstrap and externalClusters.
 */
const NOT_RECOVERY_SETTINGS: Record<string, string> = {
    instances: "the drill restores one server (the first instance; CloudNativePG clones the others from it)",
    imageName: "the drill runs the local PostgreSQL",
    postgresql: "instance parameters; the restored server keeps the ones its base backup carries",
    storage: "volumes; the drill restores into a temp directory",
    walStorage: "volumes; the drill restores into a temp directory",
    resources: "pod sizing",
    serviceAccountTemplate: "the IRSA role for S3; the drill reads moto_server with its credentials",
};
/** bootstrap.recovery.database/owner only name what CloudNativePG's app Secret points at (recovery.md); the drill connects as its superuser. */
const RECOVERY_KEYS = new Set(["source", "recoveryTarget", "database", "owner"]);
/** The targets model/restore.ts postgresRecoverySettings turns into PostgreSQL settings. */
const TARGET_KEYS = new Set(["targetTime", "targetLSN", "targetName", "backupID"]);
/** ObjectStore configuration: where (destinationPath), credentials (moto's locally), and how WAL and base backups are WRITTEN (compression; barman-cloud detects it on read). */
const STORE_KEYS = new Set(["destinationPath", "s3Credentials", "wal", "data"]);

function onlyKeys(value: Obj | undefined, allowed: Set<string>, where: string): void {
    const extra = Object.keys(value ?? {}).filter((k) => !allowed.has(k) && value![k] !== undefined);
    if (extra.length > 0) throw new Error(`${where} declares ${extra.join(", ")}, which the drill cannot apply (it applies ${[...allowed].join(", ")})`);
}

/**
 * The recovery a declared restore Cluster asks for. `stores` are the declared ObjectStores (their
 * inputs); the one the source external cluster names is read. Throws on anything it cannot apply.
 */
export function parseDeclaredRestore(stack: string, cluster: Obj, stores: Obj[]): DeclaredRestore {
    const name = String(cluster.metadata?.name);
    const at = `restore Cluster ${name}`;
    const spec: Obj = cluster.spec ?? {};
    const unknown = Object.keys(spec).filter((k) => !(k in NOT_RECOVERY_SETTINGS) && k !== "bootstrap" && k !== "externalClusters");
    if (unknown.length > 0) throw new Error(`${at}: spec.${unknown.join(", spec.")} is not something the drill's local restore can apply (archiving, backups or replication are refused)`);
    onlyKeys(spec.bootstrap, new Set(["recovery"]), `${at}: spec.bootstrap`);
    const recovery: Obj | undefined = spec.bootstrap?.recovery;
    if (!recovery) throw new Error(`${at}: no spec.bootstrap.recovery; the drill restores only a recovery bootstrap`);
    onlyKeys(recovery, RECOVERY_KEYS, `${at}: spec.bootstrap.recovery`);
    onlyKeys(recovery.recoveryTarget, TARGET_KEYS, `${at}: spec.bootstrap.recovery.recoveryTarget`);
    const external = ((spec.externalClusters ?? []) as Obj[]).filter((e) => e.name === recovery.source);
    if (external.length !== 1) throw new Error(`${at}: bootstrap.recovery.source ${JSON.stringify(recovery.source)} names ${external.length} externalClusters entries, not one`);
    const source = external[0];
    onlyKeys(source, new Set(["name", "plugin"]), `${at}: externalClusters ${source.name}`);
    if (source.plugin?.name !== BARMAN_CLOUD_PLUGIN) throw new Error(`${at}: externalClusters ${source.name} is not read through ${BARMAN_CLOUD_PLUGIN}`);
    onlyKeys(source.plugin, new Set(["name", "parameters"]), `${at}: externalClusters ${source.name}.plugin`);
    const params: Obj = source.plugin.parameters ?? {};
    onlyKeys(params, new Set(["barmanObjectName", "serverName"]), `${at}: externalClusters ${source.name}.plugin.parameters`);
    if (typeof params.serverName !== "string") throw new Error(`${at}: externalClusters ${source.name} declares no plugin parameter serverName`);

    const namespace = cluster.metadata?.namespace;
    const matching = stores.filter((s) => s.metadata?.name === params.barmanObjectName && s.metadata?.namespace === namespace);
    if (matching.length !== 1) throw new Error(`${at}: ObjectStore ${params.barmanObjectName} in ${namespace} is declared ${matching.length} times, not once`);
    const store: Obj = matching[0];
    onlyKeys(store.spec, new Set(["configuration", "retentionPolicy"]), `ObjectStore ${params.barmanObjectName}: spec`);
    const config: Obj = store.spec?.configuration ?? {};
    onlyKeys(config, STORE_KEYS, `ObjectStore ${params.barmanObjectName}: spec.configuration`);
    if (config.s3Credentials !== undefined && JSON.stringify(config.s3Credentials) !== JSON.stringify({ inheritFromIAMRole: true })) {
        throw new Error(`ObjectStore ${params.barmanObjectName}: s3Credentials ${JSON.stringify(config.s3Credentials)}; the drill stands in only for inheritFromIAMRole`);
    }
    const bucket = /^s3:\/\/([^/]+)(\/.*)?$/.exec(String(config.destinationPath))?.[1];
    if (!bucket) throw new Error(`ObjectStore ${params.barmanObjectName}: destinationPath ${JSON.stringify(config.destinationPath)} is not s3://<bucket>/...`);
    return {
        stack,
        cluster: name,
        destinationPath: config.destinationPath,
        bucket,
        serverName: params.serverName,
        recoveryTarget: recovery.recoveryTarget === undefined ? undefined : { ...recovery.recoveryTarget },
    };
}

/**
 * The local server's recovery settings: WAL from the declared archive with barman-cloud-wal-restore
 * (what the plugin runs for CloudNativePG's restore_command), the target settings as CloudNativePG
 * writes them (model/restore.ts, the same function), and no archiving (the Cluster declares no
 * WAL-archiving plugin: parseDeclaredRestore refuses spec.plugins).
 */
export function localRecoverySettings(d: DeclaredRestore, endpointUrl: string): Record<string, string> {
    return {
        restore_command: `barman-cloud-wal-restore --endpoint-url ${endpointUrl} ${d.destinationPath} ${d.serverName} %f %p`,
        ...postgresRecoverySettings(d.recoveryTarget),
        archive_mode: "off",
    };
}

/** One line of barman-cloud-backup-list --format json. end_time is Python's ctime() of the server's time (UTC here). */
export interface BarmanBackup {
    backup_id: string;
    status: string;
    end_time?: string;
    end_xlog?: string;
}

function lsnValue(lsn: string): bigint {
    const [hi, lo] = lsn.split("/");
    return (BigInt(`0x${hi}`) << 32n) + BigInt(`0x${lo}`);
}

/**
 * The base backup CloudNativePG restores (docs/src/recovery.md @v1.30.0): backupID when declared;
 * for targetTime or targetLSN the closest backup completed before the target; otherwise the newest.
 * end_time has whole seconds, so a backup counts as before a time only if it ended a full second earlier.
 */
export function chooseBaseBackup(backups: BarmanBackup[], target: CnpgRecoveryTarget | undefined): string {
    const done = backups.filter((b) => b.status === "DONE").sort((a, b) => a.backup_id.localeCompare(b.backup_id));
    let eligible = done;
    if (target?.backupID) {
        eligible = done.filter((b) => b.backup_id === target.backupID);
    } else if (target?.targetName) {
        throw new Error("recoveryTarget.targetName without backupID: CloudNativePG cannot pick a base backup for it (recovery.md)");
    } else if (target?.targetTime) {
        const targetMs = Date.parse(target.targetTime);
        eligible = done.filter((b) => b.end_time !== undefined && Date.parse(`${b.end_time} UTC`) + 1000 <= targetMs);
    } else if (target?.targetLSN) {
        eligible = done.filter((b) => b.end_xlog !== undefined && lsnValue(b.end_xlog) <= lsnValue(target.targetLSN!));
    }
    if (eligible.length === 0) throw new Error(`no completed base backup fits the recovery target ${JSON.stringify(target ?? "latest")} (backups: ${done.map((b) => `${b.backup_id} ended ${b.end_time}`).join(", ") || "none"})`);
    return eligible[eligible.length - 1].backup_id;
}

/**
 * Runs the program for `stack` with `overrides` plus this one restore, and reads the recovery its
 * Cluster (the one labelled with the restore's name) declares.
 */
export async function declaredRestore(stack: string, restore: Omit<RestoreSetting, "instances">, overrides: Overrides = {}): Promise<DeclaredRestore> {
    const run = await runProgram(stack, { ...overrides, "drstack:restore": [restore] }, { peers: peersFromStackFiles() });
    // Components register their outputs after the run resolves; a later run in this process re-points the mock monitor.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const inputs = (type: string) => run.ofType(type).map((r) => unwrapSecrets(r.inputs) as Obj);
    const clusters = inputs(RESOURCE_TYPES.cnpgCluster).filter((c) => isRestoreCluster(c) && c.metadata.labels[LABELS.restore] === restore.name);
    if (clusters.length !== 1) throw new Error(`stack ${stack} with drstack:restore ${restore.name} declares ${clusters.length} restore Clusters labelled ${LABELS.restore}=${restore.name}, not one`);
    return parseDeclaredRestore(stack, clusters[0], inputs(RESOURCE_TYPES.objectStore));
}
