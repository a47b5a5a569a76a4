// The local topology that mirrors a stack: a primary PostgreSQL archiving WAL with barman-cloud
// (the tool CloudNativePG's plugin runs) to the "primary region" bucket, reached through a
// cuttable proxy; a "standby region" bucket fed by the replication emulation (the declared rules);
// a warm standby that restores from the standby bucket's archive, as a CloudNativePG replica
// cluster does, and streams from the primary (through another cuttable proxy: the inter-region
// link) only when the program declares streaming (drill/declared.ts).
import * as path from "path";
import { DrConfig } from "../config";
import { MotoServer } from "../local/motoServer";
import { LocalPostgres } from "../local/postgres";
import { runChecked } from "../local/processes";
import { TcpProxy } from "../local/tcpProxy";
import { processTeardown, Teardown } from "../local/teardown";
import { postgresBinDir, PYTHON_TOOL_ENV } from "../local/tools";
import { Overrides } from "../tools/offline/program";
import { baseBackupOptionsOf, DeclaredTopology, declaredTopology } from "./declared";
import { barmanBaseBackup } from "./localDeployment";
import { Replicator } from "./replicator";
import { Target } from "./workload";

/** barman 3.4 (Debian 12) compresses WAL with these; others fall back to gzip, said in the report. */
const BARMAN_WAL_COMPRESSIONS = ["gzip", "bzip2", "snappy"];

export interface DrillSettings {
    stack: string;
    config: DrConfig;
    /** Commits per second of the workload. */
    rate: number;
    /** Seconds of load per scenario. */
    durationSeconds: number;
    /** Lag of the S3 replication emulation, in seconds. */
    replicationLagSeconds: number;
    /** Production seconds per drill second, applied to archive timing and RPO targets. */
    timeScale: number;
    /** archive_timeout in the drill: the stack's derived value divided by the time scale. */
    archiveTimeoutSeconds: number;
    /** The WAL upload allowance, scaled the same way. */
    uploadAllowanceSeconds: number;
    /** The WAL compression used (the stack's, if barman here supports it). */
    walCompression: string;
    /** How long to wait for a segment to reach the archive before the scenario errors. */
    archiveWaitMs: number;
    log: (line: string) => void;
    /** The peer stack's config (its alert rules run in the drill too); read from its stack file when absent. */
    peerConfig?: DrConfig;
    /** What the program declares for the stack pair; read (once per stack) by Topology.start when absent. */
    declared?: DeclaredTopology;
    /** Config overrides the drill runs the program with for both stacks; runbook steps and restores start from them. */
    overrides?: Overrides;
}

const declaredByStack = new Map<string, Promise<DeclaredTopology>>();

/** The stack's declared topology, read once per process (running the program takes a while). */
export function declaredTopologyOf(settings: DrillSettings): Promise<DeclaredTopology> {
    if (settings.declared) return Promise.resolve(settings.declared);
    if (!declaredByStack.has(settings.stack)) declaredByStack.set(settings.stack, declaredTopology(settings.stack));
    return declaredByStack.get(settings.stack)!;
}

export function drillSettings(
    stack: string,
    config: DrConfig,
    options: { rate: number; durationSeconds: number; replicationLagSeconds: number; timeScale: number; archiveWaitMs?: number; log: (line: string) => void; overrides?: Overrides },
    declared?: DeclaredTopology,
): DrillSettings {
    // The declared values when known (runDrill reads them); the config's derivation otherwise.
    const archiveTimeout = declared?.archiveTimeoutSeconds ?? config.wal.archiveTimeoutSeconds;
    const compression = declared ? declared.walCompression : config.postgres.walCompression;
    return {
        stack,
        config,
        ...options,
        declared,
        archiveWaitMs: options.archiveWaitMs ?? 120000,
        archiveTimeoutSeconds: Math.max(1, Math.round(archiveTimeout / options.timeScale)),
        uploadAllowanceSeconds: config.walUploadAllowanceSeconds / options.timeScale,
        walCompression: compression && BARMAN_WAL_COMPRESSIONS.includes(compression) ? compression : "gzip",
    };
}

export interface TopologyOptions {
    /** Start a warm standby (region-loss and switchover scenarios). */
    standby: boolean;
    /** Sabotage: replace the primary's archive_command (tests show the drill then fails clearly). */
    archiveCommand?: string;
    /** Sabotage: no S3 replication emulation at all. */
    replicator?: boolean;
}

/** Forces a WAL segment switch on `server`; returns the segment it closed. */
export async function switchWal(server: LocalPostgres): Promise<string> {
    const [{ segment }] = await server.query<{ segment: string }>("SELECT pg_walfile_name(pg_switch_wal()) AS segment");
    return segment;
}

/**
 * Polls pg_stat_archiver every `pollMs` until `segment` (or a later one) is archived; false if that has not
 * happened `timeoutMs` after `sinceMs`, or once `giveUp` (asked after each poll that found it not archived) is true.
 */
export async function waitArchived(
    server: LocalPostgres,
    segment: string,
    sinceMs: number,
    timeoutMs: number,
    pollMs: number,
    giveUp: () => Promise<boolean> = async () => false,
): Promise<boolean> {
    for (;;) {
        const [row] = await server.query<{ last: string | null }>("SELECT last_archived_wal AS last FROM pg_stat_archiver");
        if (row.last !== null && row.last >= segment) return true;
        if (Date.now() - sinceMs > timeoutMs || (await giveUp())) return false;
        await new Promise((r) => setTimeout(r, pollMs));
    }
}

/**
 * The name PostgreSQL gave a file it archived (a segment, a .backup, .partial or .history file), from the
 * key barman-cloud-wal-archive stored it under: `<server>/wals/<timeline+log>/<name>`, a history file
 * directly under `wals/` (barman/xlog.py, hash_dir), plus the compression's suffix if any: .gz, .bz2
 * or .snappy, all barman-cloud 3.4 writes (barman/cloud.py, ALLOWED_COMPRESSIONS); undefined for any
 * other key.
 */
export function archivedFileName(key: string): string | undefined {
    return /\/([0-9A-F]{24}(?:\.[0-9A-F]{8}\.backup|\.partial)?|[0-9A-F]{8}\.history)(?:\.gz|\.bz2|\.snappy)?$/.exec(key)?.[1];
}

export class Topology {
    standby: LocalPostgres | undefined;
    /** The inter-region link; the standby streams through it only when the stack declares streaming. */
    link: TcpProxy | undefined;
    replicator: Replicator | undefined;

    private constructor(
        readonly settings: DrillSettings,
        /** Everything this topology started, stopped newest first by cleanup(). */
        readonly teardown: Teardown,
        readonly moto: MotoServer,
        /** The primary's route to its own region's bucket: cut when the region is lost or S3 is down. */
        readonly s3Link: TcpProxy,
        readonly primary: LocalPostgres,
        readonly primaryBucket: string,
        readonly standbyBucket: string,
        /** Barman server names: the clusters' names. */
        readonly primaryServer: string,
        readonly standbyServer: string,
        readonly declared: DeclaredTopology,
    ) {}

    /** The standby streams from the primary (the declared replica Cluster has connection parameters). */
    get streams(): boolean {
        return this.declared.standbyStreams;
    }

    /** Starts the parts; each goes on a scope of `parent`, so an interrupted drill stops them too. */
    static async start(settings: DrillSettings, options: TopologyOptions, parent: Teardown = processTeardown): Promise<Topology> {
        // The primary region is the one whose cluster is primary, whichever stack the drill mirrors;
        // the primary's bucket, the clusters and the replication rules are what the program declares.
        const declared = await declaredTopologyOf(settings);
        const standbyBucket = settings.config.topology.standby.bucket;
        const [primaryBucket, primaryServer, standbyServer] = [declared.replication.sourceBucket, declared.primaryCluster, declared.standbyCluster];
        const teardown = parent.scope("topology");
        try {
            // moto_server and the primary start side by side (each takes a second or more): the primary's
            // archive_command names the S3 link proxy, which is listening before either, and nothing is archived
            // before the buckets exist (below, before the CHECKPOINT that lets archive_timeout switch segments).
            const motoStarting = MotoServer.start();
            const s3Link = await TcpProxy.start(motoStarting.then((m) => m.port)).catch(async (error: Error) => {
                await motoStarting.then((m) => m.stop()).catch(() => undefined);
                throw error;
            });
            teardown.add("stop the S3 link proxy", () => s3Link.stop());
            const archiveCommand =
                options.archiveCommand ??
                `barman-cloud-wal-archive --${settings.walCompression} --endpoint-url ${s3Link.endpoint} s3://${primaryBucket}/ ${primaryServer} %p`;
            const primaryStarting = LocalPostgres.start({
                name: "drill-primary",
                settings: {
                    wal_level: "replica",
                    archive_mode: "on",
                    archive_command: archiveCommand,
                    archive_timeout: `${settings.archiveTimeoutSeconds}s`,
                    max_wal_senders: 5,
                    wal_keep_size: "512MB",
                    hot_standby: "on",
                },
                env: MotoServer.awsEnvFor(),
            });
            // Whichever of the two started goes on the teardown, also when the other failed.
            const [motoStart, primaryStart] = await Promise.allSettled([motoStarting, primaryStarting]);
            if (motoStart.status === "fulfilled") teardown.add("stop moto_server", () => motoStart.value.stop());
            if (primaryStart.status === "fulfilled") teardown.add("remove the primary", () => primaryStart.value.cleanup());
            if (motoStart.status === "rejected") throw motoStart.reason;
            if (primaryStart.status === "rejected") throw primaryStart.reason;
            const [moto, primary] = [motoStart.value, primaryStart.value];
            const destinations = declared.replication.rules.map((r) => r.destinationBucket);
            for (const bucket of new Set([primaryBucket, standbyBucket, ...destinations])) {
                await moto.createBucket(bucket, { versioning: true });
            }
            // Observed on PostgreSQL 15: archive_timeout forces no segment switch before the server's
            // first checkpoint after initdb (then it switches on time). A production cluster has long
            // checkpointed, so the drill starts from that state.
            await primary.query("CHECKPOINT");
            const topology = new Topology(settings, teardown, moto, s3Link, primary, primaryBucket, standbyBucket, primaryServer, standbyServer, declared);
            if (options.replicator !== false) {
                const replicator = new Replicator(moto.s3(), primaryBucket, declared.replication.rules, settings.replicationLagSeconds);
                topology.replicator = replicator;
                teardown.add("stop the replication emulation", () => replicator.stop());
            }
            if (options.standby) {
                await topology.startStandby();
            }
            return topology;
        } catch (error) {
            await teardown.runAll().catch((cleanupError: Error) => settings.log(cleanupError.message));
            throw error;
        }
    }

    private async startStandby(): Promise<void> {
        const { moto, primary } = this;
        const link = await TcpProxy.start(primary.port);
        this.link = link;
        this.teardown.add("stop the inter-region link proxy", () => link.stop());
        this.standby = await LocalPostgres.adopt({
            name: "drill-standby",
            env: moto.awsEnv(),
            populate: (server) =>
                server.run(path.join(postgresBinDir(), "pg_basebackup"), [
                    "-h", primary.host, "-p", String(primary.port), "-U", primary.superuser,
                    "-D", server.dataDir, "-X", "stream", "--checkpoint=fast", "--no-sync",
                ], { PGPASSWORD: primary.password }),
            settings: {
                // Streaming only when the declared replica Cluster streams (externalClusters connectionParameters).
                ...(this.streams
                    ? { primary_conninfo: `host=${primary.host} port=${link.port} user=${primary.superuser} password=${primary.password} application_name=drill-standby` }
                    : {}),
                // The fallback when streaming is down: the primary's WAL as replicated into this region.
                restore_command: `barman-cloud-wal-restore --endpoint-url ${moto.endpoint} s3://${this.standbyBucket}/ ${this.primaryServer} %f %p`,
                recovery_target_timeline: "latest",
                // As the replica Cluster declares it (PostgreSQL's 5 s default when it declares none), not scaled:
                // the wait between failed attempts to get WAL. A promotion still replays everything the archive
                // holds first (PostgreSQL src/backend/access/transam/xlogrecovery.c, WaitForWALToBecomeAvailable).
                wal_retrieve_retry_interval: this.declared.standbyWalRetrieveRetryInterval,
                // Into its own region's bucket under its own name: already in recovery when the replica Cluster
                // declares a WAL archiver (CloudNativePG sets archive_mode=always then), after promotion otherwise.
                archive_mode: this.declared.standbyArchives ? "always" : "on",
                archive_command: `barman-cloud-wal-archive --${this.settings.walCompression} --endpoint-url ${moto.endpoint} s3://${this.standbyBucket}/ ${this.standbyServer} %p`,
            },
            signal: "standby",
        });
        const standby = this.standby;
        this.teardown.add("remove the standby", () => standby.cleanup());
    }

    target(server: LocalPostgres): Target {
        return { host: server.host, port: server.port, user: server.superuser, password: server.password };
    }

    /** Where a cluster's own ObjectStore points: its server, its bucket and the barman server name. */
    archiveOf(cluster: "primary" | "standby"): { server: LocalPostgres; bucket: string; serverName: string } {
        return cluster === "primary"
            ? { server: this.primary, bucket: this.primaryBucket, serverName: this.primaryServer }
            : { server: this.standby!, bucket: this.standbyBucket, serverName: this.standbyServer };
    }

    /** A base backup into a cluster's own bucket, as its CloudNativePG ScheduledBackup takes it. */
    async baseBackup(cluster: "primary" | "standby" = "primary"): Promise<void> {
        const { server, bucket, serverName } = this.archiveOf(cluster);
        await barmanBaseBackup(server, this.moto.endpoint, bucket, serverName, baseBackupOptionsOf(this.declared, serverName));
    }

    /** The newest completed base backup in the primary's bucket (barman 3.4 has no "latest" keyword). */
    async latestBackupId(): Promise<string> {
        const out = await runChecked(
            "barman-cloud-backup-list",
            ["--format", "json", "--endpoint-url", this.moto.endpoint, `s3://${this.primaryBucket}/`, this.primaryServer],
            { env: { PATH: process.env.PATH ?? "", HOME: this.primary.baseDir, ...PYTHON_TOOL_ENV, ...this.moto.awsEnv() }, runAs: this.primary.user.runAs, timeoutMs: 60000 },
        );
        const backups = (JSON.parse(out.stdout).backups_list ?? []) as { backup_id: string; status: string; end_time?: string }[];
        const done = backups.filter((b) => b.status === "DONE").sort((a, b) => a.backup_id.localeCompare(b.backup_id));
        if (done.length === 0) throw new Error(`no completed base backup of ${this.primaryServer} in s3://${this.primaryBucket}/`);
        return done[done.length - 1].backup_id;
    }

    /** Forces a WAL segment switch and waits until the archive holds it; returns the segment. */
    async switchAndWaitArchived(timeoutMs = this.settings.archiveWaitMs): Promise<string> {
        const segment = await switchWal(this.primary);
        if (!(await waitArchived(this.primary, segment, Date.now(), timeoutMs, 250))) throw new Error(`WAL segment ${segment} was not archived within ${timeoutMs} ms`);
        return segment;
    }

    /** The files in a bucket's archive of a server (archivedFileName), read from moto directly, not through the cuttable link. */
    async archivedFiles(bucket: string, server: string): Promise<string[]> {
        const { ListObjectsV2Command } = await import("@aws-sdk/client-s3");
        const names: string[] = [];
        let token: string | undefined;
        do {
            const page = await this.moto.s3().send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${server}/wals/`, ContinuationToken: token }));
            for (const o of page.Contents ?? []) {
                const name = archivedFileName(o.Key ?? "");
                if (name) names.push(name);
            }
            token = page.IsTruncated ? page.NextContinuationToken : undefined;
        } while (token);
        return names.sort();
    }

    /** The WAL segment names in a bucket's archive of a server (timeline + segment, no suffix). */
    async archivedSegments(bucket: string, server: string): Promise<string[]> {
        return (await this.archivedFiles(bucket, server)).filter((name) => /^[0-9A-F]{24}$/.test(name));
    }

    /** The LSN of the primary's last checkpoint, from pg_controldata (the server is stopped). */
    async stoppedPrimaryCheckpointLsn(): Promise<string> {
        const out = await runChecked(path.join(postgresBinDir(), "pg_controldata"), ["-D", this.primary.dataDir], {
            env: { PATH: process.env.PATH ?? "", LANG: "C" },
            runAs: this.primary.user.runAs,
            timeoutMs: 30000,
        });
        const m = /Latest checkpoint location:\s+([0-9A-F]+\/[0-9A-F]+)/.exec(out.stdout);
        if (!m) throw new Error(`pg_controldata printed no checkpoint location:\n${out.stdout}`);
        return m[1];
    }

    /** Stops and removes everything, also after a failure; nothing it started keeps running. */
    cleanup(): Promise<void> {
        return this.teardown.runAll();
    }
}
