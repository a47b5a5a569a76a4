// What the restore and point-in-time bench parts share: a PostgreSQL server with moto_server
// (the local S3 emulator) and barman-cloud, a table of a chosen size, the plain copy of the data
// directory every restore is compared with, and the versions the figures come from.

import { DeleteObjectsCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import * as fs from "fs";
import * as path from "path";
import { Readable } from "stream";
import { pipeline } from "stream/promises";
import { MotoServer } from "../local/motoServer";
import { LocalPostgres, SettingValue } from "../local/postgres";
import { runChecked } from "../local/processes";
import { Teardown } from "../local/teardown";
import { PYTHON_TOOL_ENV, systemPath, which } from "../local/tools";
import { interpreterOf } from "./codecs";
import { dirBytes, MIB, seconds, syncFilesystem } from "./support";

export const BUCKET = "drstack-bench";
/** Rows per INSERT statement while loading: big enough to be fast, small enough to stop near the size asked for. */
const MAX_BATCH_ROWS = 500000;

/**
 * What production's ScheduledBackup uses: the config's backupJobs default. No --encryption: the declared
 * ObjectStore sets none (components/postgres/cluster.ts), so the plugin sends no SSE header and S3 applies
 * the bucket's default key (moto only records a header, so timings do not depend on it).
 */
export const BACKUP_JOBS = 2;

/** One timed run: the command, then `sync -f` of the target filesystem (writeback counts). */
export interface TimedRun {
    seconds: number;
    commandSeconds: number;
    syncSeconds: number;
    /** Bytes of regular files the run wrote. */
    bytes: number;
}

export interface Versions {
    postgres: string;
    barmanCloud: string;
    moto: string;
}

export interface BenchServers {
    moto: MotoServer;
    pg: LocalPostgres;
    /** PATH, HOME and the moto credentials, for barman-cloud and the aws CLI. */
    env: NodeJS.ProcessEnv;
}

/** moto_server with the bench bucket, and a PostgreSQL server; both torn down by `teardown`. */
export async function startServers(
    teardown: Teardown,
    name: string,
    settings: (moto: MotoServer) => Record<string, SettingValue>,
): Promise<BenchServers> {
    const moto = await MotoServer.start();
    teardown.add("stop moto_server", () => moto.stop());
    await moto.createBucket(BUCKET);
    const pg = await LocalPostgres.start({ name, settings: settings(moto), env: moto.awsEnv() });
    teardown.add(`remove PostgreSQL ${name}`, () => pg.cleanup());
    // PYTHON_TOOL_ENV as the drill and the tests start barman-cloud (local/tools.ts): without it this machine's
    // python3-setuptools adds about 1.2 s of imports to every start, which the plugin's image does not have.
    return { moto, pg, env: { PATH: systemPath(), HOME: pg.baseDir, ...PYTHON_TOOL_ENV, ...moto.awsEnv() } };
}

export async function commandOutput(command: string, args: string[]): Promise<string> {
    return (await runChecked(command, args, { env: { PATH: systemPath() }, timeoutMs: 60000 })).stdout.trim();
}

export async function versions(pg: LocalPostgres): Promise<Versions> {
    return {
        postgres: (await pg.query<{ v: string }>("SELECT current_setting('server_version') AS v"))[0].v,
        barmanCloud: await commandOutput("barman-cloud-backup", ["--version"]),
        moto: await motoVersion(),
    };
}

async function motoVersion(): Promise<string> {
    // moto_server has no --version; ask the Python it runs with (through a pyenv shim if need be).
    const script = which("moto_server");
    if (!script) {
        return "unknown";
    }
    let python = interpreterOf(script);
    if (python && /\b(env|bash|sh)$/.test(python)) {
        const real = await runChecked("pyenv", ["which", "moto_server"], { env: process.env, timeoutMs: 30000 }).catch(() => undefined);
        python = real ? interpreterOf(real.stdout.trim()) : undefined;
    }
    if (!python) {
        return "unknown";
    }
    const r = await runChecked(python, ["-c", "import importlib.metadata as m; print(m.version('moto'))"], { env: process.env, timeoutMs: 30000 })
        .catch(() => undefined);
    return r?.stdout.trim() || "unknown";
}

export interface LoadedTable {
    rows: number;
    tableBytes: number;
    /** Sum of pg_database_size over all databases: the basis of every MiB/s figure. */
    databaseBytes: number;
}

/**
 * Loads ~targetBytes of pgbench_accounts-like rows with a half-compressible filler (hex md5s,
 * about what real rows give gzip; pgbench's blank filler would make compression look free),
 * in two sessions at once (one per core here), then freezes and checkpoints, so no later read
 * dirties a page. A normal, WAL-logged table: it must be in the backup.
 */
export async function loadTable(pg: LocalPostgres, targetBytes: number, say: (line: string) => void): Promise<LoadedTable> {
    await pg.query("CREATE TABLE bench_accounts (aid bigint NOT NULL, bid integer NOT NULL, abalance integer NOT NULL, filler text NOT NULL)");
    const insert =
        "INSERT INTO bench_accounts SELECT g, (g / 100000)::int, 0, " +
        "md5(random()::text) || md5(random()::text) || md5(random()::text) FROM generate_series($1::bigint, $2::bigint) AS g";
    const sessions = await Promise.all([pg.connect(), pg.connect()]);
    let rows = 20000;
    let tableBytes = 0;
    try {
        const size = async () => Number((await sessions[0].query("SELECT pg_table_size('bench_accounts') AS b")).rows[0].b);
        await sessions[0].query(insert, [1, rows]);
        for (;;) {
            tableBytes = await size();
            const rowsLeft = Math.floor((targetBytes - tableBytes) / (tableBytes / rows));
            if (rowsLeft < 1000) {
                break;
            }
            const perSession = Math.min(MAX_BATCH_ROWS, Math.ceil(rowsLeft / sessions.length));
            await Promise.all(sessions.map((s, i) => s.query(insert, [rows + i * perSession + 1, rows + (i + 1) * perSession])));
            rows += perSession * sessions.length;
            say(`  loaded ${rows} rows, ${Math.round((await size()) / MIB)} MiB`);
        }
    } finally {
        await Promise.all(sessions.map((s) => s.end().catch(() => undefined)));
    }
    await pg.query("VACUUM (FREEZE, ANALYZE) bench_accounts");
    await pg.query("CHECKPOINT");
    const [{ size }] = await pg.query<{ size: string }>("SELECT sum(pg_database_size(datname))::bigint AS size FROM pg_database");
    return { rows, tableBytes, databaseBytes: Number(size) };
}

/** Times `command` writing into `target`, then the flush of what it left in the page cache. */
export async function timed(target: string, command: () => Promise<unknown>): Promise<TimedRun> {
    // Earlier runs' writeback must not land in this run's time.
    await syncFilesystem(path.dirname(target));
    const start = performance.now();
    await command();
    const commandDone = performance.now();
    await syncFilesystem(target);
    const end = performance.now();
    return { seconds: seconds(start, end), commandSeconds: seconds(start, commandDone), syncSeconds: seconds(commandDone, end), bytes: dirBytes(target) };
}

export interface PlainCopy {
    method: string;
    runs: TimedRun[];
    /** The data dir without pg_wal: what the copy copies and a restore writes. */
    dataDirBytes: number;
}

export const PLAIN_COPY_METHOD = "cp -a of the cleanly stopped data dir without pg_wal (a base backup leaves pg_wal out too), then sync -f";

/**
 * The baseline: `cp -a` of every top-level entry of the stopped (cleanly shut down, consistent)
 * data dir except pg_wal, `repeats` times into fresh dirs under workDir. The server is started again after.
 */
export async function plainCopy(pg: LocalPostgres, workDir: string, repeats: number, timeoutMs: number, say: (l: string) => void): Promise<PlainCopy> {
    await pg.stop("fast");
    const entries = fs.readdirSync(pg.dataDir).filter((e) => e !== "pg_wal").map((e) => path.join(pg.dataDir, e));
    const dataDirBytes = dirBytes(pg.dataDir) - dirBytes(path.join(pg.dataDir, "pg_wal"));
    const runs: TimedRun[] = [];
    for (let i = 1; i <= repeats; i++) {
        const target = path.join(workDir, `copy-${i}`);
        fs.mkdirSync(target);
        const run = await timed(target, () => runChecked("cp", ["-a", ...entries, target], { env: { PATH: systemPath() }, timeoutMs }));
        if (run.bytes !== dataDirBytes) {
            throw new Error(`plain copy ${i} wrote ${run.bytes} bytes, the data dir (without pg_wal) has ${dataDirBytes}`);
        }
        runs.push(run);
        say(`plain copy ${i}/${repeats}: ${run.seconds.toFixed(2)} s (cp ${run.commandSeconds.toFixed(2)} s + sync ${run.syncSeconds.toFixed(2)} s)`);
        fs.rmSync(target, { recursive: true, force: true });
    }
    await pg.restart();
    return { method: PLAIN_COPY_METHOD, runs, dataDirBytes };
}

export async function listObjects(s3: S3Client, prefix: string): Promise<{ Key: string; Size: number }[]> {
    const found: { Key: string; Size: number }[] = [];
    let token: string | undefined;
    do {
        const page = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix, ContinuationToken: token }));
        for (const o of page.Contents ?? []) {
            found.push({ Key: o.Key!, Size: o.Size ?? 0 });
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return found;
}

/** S3 GETs of `keys`, one after another (as barman-cloud-restore reads its tars), each into a file in `dir`. */
export async function downloadObjects(s3: S3Client, keys: string[], dir: string): Promise<void> {
    for (const key of keys) {
        const response = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
        await pipeline(response.Body as Readable, fs.createWriteStream(path.join(dir, path.basename(key))));
    }
}

/** Removes a measured backup from moto, which holds everything in memory. */
export async function deleteObjects(s3: S3Client, prefix: string): Promise<void> {
    const keys = (await listObjects(s3, prefix)).map((o) => ({ Key: o.Key }));
    for (let i = 0; i < keys.length; i += 1000) {
        await s3.send(new DeleteObjectsCommand({ Bucket: BUCKET, Delete: { Objects: keys.slice(i, i + 1000) } }));
    }
}

/** The one backup barman-cloud-backup-list shows for `server`. */
export async function onlyBackupId(servers: BenchServers, destination: string, server: string): Promise<string> {
    const listing = await runChecked("barman-cloud-backup-list", ["--endpoint-url", servers.moto.endpoint, "--format", "json", destination, server], {
        env: servers.env,
        runAs: servers.pg.user.runAs,
        timeoutMs: 120000,
    });
    const backups: { backup_id: string }[] = JSON.parse(listing.stdout).backups_list ?? [];
    if (backups.length !== 1) {
        throw new Error(`expected one backup of ${server}, barman-cloud-backup-list shows ${backups.length}`);
    }
    return backups[0].backup_id;
}
