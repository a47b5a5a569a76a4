// `ts-node bench/restoreThroughput.ts [--size-mb N] [--repeats N] [--compressions a,b] [--out file]`:
// how fast a barman-cloud base backup restores compared with a plain copy of the same data dir.
// One base backup per compression is uploaded to moto_server (a local S3 emulator on loopback:
// its uploads are slow, so each backup is taken once) and restored `repeats` times into fresh
// temp dirs. Goal reported against: restoring the 1 GB base backup takes at most 2x the plain copy.

import { DeleteObjectsCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { Command } from "commander";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { MotoServer } from "../local/motoServer";
import { LocalPostgres } from "../local/postgres";
import { requireTools, systemPath, TOOLS, which } from "../local/tools";
import { makeTempDir, removeDir, serviceUser } from "../local/user";
import {
    dirBytes,
    formatTable,
    MachineInfo,
    machineInfo,
    median,
    MIB,
    round,
    seconds,
    syncFilesystem,
    Teardown,
} from "./support";

export const GOAL = "restoring the 1 GB base backup takes at most 2x the plain copy";
export const GOAL_MAX_RATIO = 2;
const GOAL_SIZE_MIB = 1024;

/** barman-cloud-backup's compression flags; "none" is its default (no flag). */
const COMPRESSION_FLAGS: Record<string, string | undefined> = { none: undefined, gzip: "--gzip", bzip2: "--bzip2", snappy: "--snappy" };
export const DEFAULT_COMPRESSIONS = Object.keys(COMPRESSION_FLAGS);

/** What production's ScheduledBackup uses (components/config.ts: backupJobs default, encryption aws:kms). */
const BACKUP_JOBS = 2;
const BACKUP_ENCRYPTION = "aws:kms";

const BUCKET = "drstack-bench";
const DESTINATION = `s3://${BUCKET}/barman`;
/** Rows per INSERT statement while loading: big enough to be fast, small enough to stop near the size asked for. */
const MAX_BATCH_ROWS = 500000;

export interface RestoreThroughputOptions {
    /** Table data to load, in MiB (default 1024). */
    sizeMB?: number;
    /** Compressions to measure (default none, gzip, bzip2, snappy; unavailable ones are skipped with the reason). */
    compressions?: string[];
    /** Restores per backup, and plain copies (default 3); the median counts. */
    repeats?: number;
    log?: (line: string) => void;
}

/** One timed run: the command, then `sync -f` of the target filesystem (writeback counts). */
export interface TimedRun {
    seconds: number;
    commandSeconds: number;
    syncSeconds: number;
    /** Bytes of regular files the run wrote. */
    bytes: number;
}

export interface MeasuredCompression {
    compression: string;
    status: "measured";
    backupId: string;
    /** barman-cloud-backup from start to exit: checkpoint, read, compress, upload to moto, backup stop. */
    uploadSeconds: number;
    /** What the backup occupies in the bucket (compressed tar parts plus backup.info). */
    storedBytes: number;
    restores: TimedRun[];
    restoreMedianSeconds: number;
    /** Database size / median restore time. */
    restoreMiBPerSecond: number;
    /** Median restore time / median plain copy time. */
    ratioToPlainCopy: number;
    goalMet: boolean;
}

export interface SkippedCompression {
    compression: string;
    status: "skipped";
    reason: string;
}

export type CompressionResult = MeasuredCompression | SkippedCompression;

export interface RestoreThroughputResult {
    benchmark: "restore-throughput";
    startedAt: string;
    finishedAt: string;
    goal: { text: string; maxRatioToPlainCopy: number; sizeMiB: number };
    notes: string[];
    machine: MachineInfo;
    loadAverageAtEnd: number[];
    versions: { postgres: string; barmanCloud: string; moto: string };
    s3: { emulator: string; endpoint: string; jobs: number; encryption: string };
    repeats: number;
    database: {
        requestedMiB: number;
        /** Sum of pg_database_size over all databases: the basis of every MiB/s figure. */
        sizeBytes: number;
        tableBytes: number;
        rows: number;
        loadSeconds: number;
        /** The data dir without pg_wal: what the plain copy copies and a restore writes. */
        dataDirBytes: number;
        /** pg_wal after the CHECKPOINT: not in a base backup, so not copied either. */
        pgWalBytes: number;
    };
    plainCopy: { method: string; runs: TimedRun[]; medianSeconds: number; miBPerSecond: number };
    compressions: CompressionResult[];
}

/** The interpreter a script's #! line names (barman-cloud's Python, whose modules decide what it can do). */
function interpreterOf(script: string): string | undefined {
    try {
        const first = fs.readFileSync(script, "utf8").split("\n", 1)[0];
        return /^#!\s*(\S+)/.exec(first)?.[1];
    } catch {
        return undefined;
    }
}

/** Why a compression cannot be measured here, or undefined if it can. */
async function unavailableBecause(compression: string, help: string, teardown: Teardown): Promise<string | undefined> {
    if (!(compression in COMPRESSION_FLAGS)) {
        return `unknown compression (known: ${DEFAULT_COMPRESSIONS.join(", ")})`;
    }
    const flag = COMPRESSION_FLAGS[compression];
    if (flag === undefined) {
        return undefined;
    }
    if (!help.includes(flag)) {
        return `this barman-cloud-backup has no ${flag}`;
    }
    if (compression === "snappy") {
        // barman only imports python-snappy when it compresses, i.e. after the backup started.
        const python = interpreterOf(which("barman-cloud-backup") ?? "") ?? "python3";
        try {
            await teardown.run(python, ["-c", "import snappy"], { env: { PATH: systemPath() }, timeoutMs: 30000 });
        } catch {
            return `python-snappy is not installed for ${python} (apt-get install -y python3-snappy)`;
        }
    }
    return undefined;
}

async function mustRun(teardown: Teardown, command: string, args: string[]): Promise<string> {
    return (await teardown.run(command, args, { env: { PATH: systemPath() }, timeoutMs: 60000 })).stdout.trim();
}

async function motoVersion(teardown: Teardown): Promise<string> {
    // moto_server has no --version; ask the Python it runs with (through a pyenv shim if need be).
    const script = which("moto_server");
    if (!script) {
        return "unknown";
    }
    let python = interpreterOf(script);
    if (python && /\b(env|bash|sh)$/.test(python)) {
        const real = await teardown.run("pyenv", ["which", "moto_server"], { env: process.env, timeoutMs: 30000 }).catch(() => undefined);
        python = real ? interpreterOf(real.stdout.trim()) : undefined;
    }
    if (!python) {
        return "unknown";
    }
    const r = await teardown
        .run(python, ["-c", "import importlib.metadata as m; print(m.version('moto'))"], { env: process.env, timeoutMs: 30000 })
        .catch(() => undefined);
    return r?.stdout.trim() || "unknown";
}

/**
 * Loads ~targetBytes of pgbench_accounts-like rows with a half-compressible filler (hex md5s,
 * about what real rows give gzip; pgbench's blank filler would make compression look free),
 * in two sessions at once (one per core here). A normal, WAL-logged table: it must be in the backup.
 */
async function loadTable(pg: LocalPostgres, targetBytes: number, log: (line: string) => void): Promise<{ rows: number; tableBytes: number }> {
    await pg.query(
        "CREATE TABLE bench_accounts (aid bigint NOT NULL, bid integer NOT NULL, abalance integer NOT NULL, filler text NOT NULL)",
    );
    const insert =
        "INSERT INTO bench_accounts SELECT g, (g / 100000)::int, (random() * 1000000)::int, " +
        "md5(random()::text) || md5(random()::text) || md5(random()::text) FROM generate_series($1::bigint, $2::bigint) AS g";
    const sessions = await Promise.all([pg.connect(), pg.connect()]);
    try {
        const tableBytes = async () =>
            Number((await sessions[0].query("SELECT pg_table_size('bench_accounts') AS b")).rows[0].b);
        let rows = 20000;
        await sessions[0].query(insert, [1, rows]);
        for (;;) {
            const size = await tableBytes();
            const rowsLeft = Math.floor((targetBytes - size) / (size / rows));
            if (rowsLeft < 1000) {
                return { rows, tableBytes: size };
            }
            const perSession = Math.min(MAX_BATCH_ROWS, Math.ceil(rowsLeft / sessions.length));
            await Promise.all(
                sessions.map((s, i) => s.query(insert, [rows + i * perSession + 1, rows + (i + 1) * perSession])),
            );
            rows += perSession * sessions.length;
            log(`  loaded ${rows} rows, ${Math.round((await tableBytes()) / MIB)} MiB`);
        }
    } finally {
        await Promise.all(sessions.map((s) => s.end().catch(() => undefined)));
    }
}

async function listObjects(s3: S3Client, prefix: string): Promise<{ Key: string; Size: number }[]> {
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

/** Removes a measured backup from moto, which holds everything in memory. */
async function deleteObjects(s3: S3Client, prefix: string): Promise<void> {
    const keys = (await listObjects(s3, prefix)).map((o) => ({ Key: o.Key }));
    for (let i = 0; i < keys.length; i += 1000) {
        await s3.send(new DeleteObjectsCommand({ Bucket: BUCKET, Delete: { Objects: keys.slice(i, i + 1000) } }));
    }
}

/** Times `command` writing into `target`, then the flush of what it left in the page cache. */
async function timed(teardown: Teardown, target: string, command: () => Promise<unknown>): Promise<TimedRun> {
    // Earlier runs' writeback must not land in this run's time.
    await syncFilesystem(teardown, path.dirname(target));
    const start = performance.now();
    await command();
    const commandDone = performance.now();
    await syncFilesystem(teardown, target);
    const end = performance.now();
    return { seconds: seconds(start, end), commandSeconds: seconds(start, commandDone), syncSeconds: seconds(commandDone, end), bytes: dirBytes(target) };
}

function fmt(value: number, digits = 2): string {
    return value.toFixed(digits);
}

export async function benchRestoreThroughput(options: RestoreThroughputOptions = {}): Promise<RestoreThroughputResult> {
    const log = options.log ?? ((line: string) => console.error(line));
    const sizeMiB = options.sizeMB ?? GOAL_SIZE_MIB;
    const repeats = options.repeats ?? 3;
    const compressions = options.compressions ?? DEFAULT_COMPRESSIONS;
    if (!(sizeMiB >= 16)) {
        throw new Error(`sizeMB must be at least 16, got ${sizeMiB}`);
    }
    if (!Number.isInteger(repeats) || repeats < 1) {
        throw new Error(`repeats must be a positive integer, got ${repeats}`);
    }
    if (compressions.length === 0) {
        throw new Error("no compression to measure");
    }
    const startedAt = new Date().toISOString();
    const began = performance.now();
    const say = (line: string) => log(`[${fmt(seconds(began), 0).padStart(5)}s] ${line}`);
    const user = serviceUser();
    const teardown = new Teardown(log);
    const stopHandlingSignals = teardown.exitOnSignals();
    try {
        requireTools([TOOLS.barmanBackup, TOOLS.barmanBackupList, TOOLS.barmanRestore], systemPath(), user.runAs);
        const machine = await machineInfo(os.tmpdir());
        // Generous: moto took ~286 s for a 1.1 GB upload; the timeouts only catch a hang.
        const commandTimeoutMs = 300000 + sizeMiB * 3000;

        say("starting moto_server (local S3 emulator on loopback) and PostgreSQL");
        const moto = await MotoServer.start();
        teardown.add("stop moto_server", () => moto.stop());
        await moto.createBucket(BUCKET);
        const pg = await LocalPostgres.start({
            name: "bench-restore",
            settings: {
                wal_level: "replica",
                // Nothing may rewrite the table between the plain copy and the backups.
                autovacuum: false,
                max_wal_size: "2GB",
            },
        });
        teardown.add("remove PostgreSQL", () => pg.cleanup());
        const workDir = makeTempDir("bench-restore-work", user);
        teardown.add(`remove ${workDir}`, () => removeDir(workDir));

        const barmanEnv = { PATH: systemPath(), HOME: pg.baseDir, ...moto.awsEnv() };
        const help = await mustRun(teardown, "barman-cloud-backup", ["--help"]);
        const versions = {
            postgres: (await pg.query<{ v: string }>("SELECT version() AS v"))[0].v,
            barmanCloud: await mustRun(teardown, "barman-cloud-backup", ["--version"]),
            moto: await motoVersion(teardown),
        };

        say(`loading ~${sizeMiB} MiB of table data`);
        const loadStart = performance.now();
        const loaded = await loadTable(pg, sizeMiB * MIB, (line) => say(line));
        // FREEZE sets every hint bit now, so no later read dirties pages; CHECKPOINT puts it all in the files.
        await pg.query("VACUUM (FREEZE, ANALYZE) bench_accounts");
        await pg.query("CHECKPOINT");
        const loadSeconds = seconds(loadStart);
        const [{ size }] = await pg.query<{ size: string }>("SELECT sum(pg_database_size(datname))::bigint AS size FROM pg_database");
        const databaseBytes = Number(size);
        say(`loaded ${loaded.rows} rows in ${fmt(loadSeconds)} s: table ${fmt(loaded.tableBytes / MIB, 0)} MiB, databases ${fmt(databaseBytes / MIB, 0)} MiB`);

        // The plain copy: the stopped (cleanly shut down, consistent) data dir, `cp -a` of every
        // top-level entry except pg_wal, whose contents a base backup leaves out as well.
        await pg.stop("fast");
        const entries = fs.readdirSync(pg.dataDir).filter((e) => e !== "pg_wal").map((e) => path.join(pg.dataDir, e));
        const pgWalBytes = dirBytes(path.join(pg.dataDir, "pg_wal"));
        const dataDirBytes = dirBytes(pg.dataDir) - pgWalBytes;
        const copies: TimedRun[] = [];
        for (let i = 1; i <= repeats; i++) {
            const target = path.join(workDir, `copy-${i}`);
            fs.mkdirSync(target);
            const run = await timed(teardown, target, () =>
                teardown.run("cp", ["-a", ...entries, target], { env: { PATH: systemPath() }, timeoutMs: commandTimeoutMs }),
            );
            if (run.bytes !== dataDirBytes) {
                throw new Error(`plain copy ${i} wrote ${run.bytes} bytes, the data dir (without pg_wal) has ${dataDirBytes}`);
            }
            copies.push(run);
            say(`plain copy ${i}/${repeats}: ${fmt(run.seconds)} s (cp ${fmt(run.commandSeconds)} s + sync ${fmt(run.syncSeconds)} s)`);
            removeDir(target);
        }
        const copyMedian = median(copies.map((r) => r.seconds));
        await pg.restart();

        const results: CompressionResult[] = [];
        for (const compression of compressions) {
            const reason = await unavailableBecause(compression, help, teardown);
            if (reason) {
                say(`${compression}: skipped, ${reason}`);
                results.push({ compression, status: "skipped", reason });
                continue;
            }
            const server = `bench-${compression}`;
            const flag = COMPRESSION_FLAGS[compression];
            say(`${compression}: base backup to moto (uploads to moto are slow; this is the long part)`);
            const uploadStart = performance.now();
            await teardown.run(
                "barman-cloud-backup",
                [
                    "--endpoint-url", moto.endpoint,
                    ...(flag ? [flag] : []),
                    "--encryption", BACKUP_ENCRYPTION,
                    "--jobs", String(BACKUP_JOBS),
                    "--immediate-checkpoint",
                    "-h", pg.socketDir,
                    "-p", String(pg.port),
                    "-U", pg.superuser,
                    DESTINATION,
                    server,
                ],
                { env: barmanEnv, runAs: user.runAs, timeoutMs: commandTimeoutMs },
            );
            const uploadSeconds = seconds(uploadStart);
            const listing = await teardown.run(
                "barman-cloud-backup-list",
                ["--endpoint-url", moto.endpoint, "--format", "json", DESTINATION, server],
                { env: barmanEnv, runAs: user.runAs, timeoutMs: 120000 },
            );
            const backups: { backup_id: string; status?: string }[] = JSON.parse(listing.stdout).backups_list ?? [];
            if (backups.length !== 1) {
                throw new Error(`expected one backup of ${server}, barman-cloud-backup-list shows ${backups.length}`);
            }
            const backupId = backups[0].backup_id;
            const storedBytes = (await listObjects(moto.s3(), `barman/${server}/base/`)).reduce((sum, o) => sum + o.Size, 0);
            say(`${compression}: backup ${backupId} took ${fmt(uploadSeconds)} s, ${fmt(storedBytes / MIB, 0)} MiB in the bucket`);

            const restores: TimedRun[] = [];
            for (let i = 1; i <= repeats; i++) {
                const target = path.join(workDir, `restore-${compression}-${i}`);
                const run = await timed(teardown, target, () =>
                    teardown.run(
                        "barman-cloud-restore",
                        ["--endpoint-url", moto.endpoint, DESTINATION, server, backupId, target],
                        { env: barmanEnv, runAs: user.runAs, timeoutMs: commandTimeoutMs },
                    ),
                );
                // A restore that wrote much less than the data dir did not restore it.
                if (!fs.existsSync(path.join(target, "PG_VERSION")) || !fs.existsSync(path.join(target, "backup_label")) || run.bytes < 0.95 * dataDirBytes) {
                    throw new Error(`restore ${i} of ${compression} looks incomplete: ${run.bytes} bytes in ${target}, data dir has ${dataDirBytes}`);
                }
                restores.push(run);
                say(`${compression}: restore ${i}/${repeats}: ${fmt(run.seconds)} s (barman-cloud-restore ${fmt(run.commandSeconds)} s + sync ${fmt(run.syncSeconds)} s)`);
                removeDir(target);
            }
            await deleteObjects(moto.s3(), `barman/${server}/`);
            const restoreMedian = median(restores.map((r) => r.seconds));
            const ratio = restoreMedian / copyMedian;
            results.push({
                compression,
                status: "measured",
                backupId,
                uploadSeconds,
                storedBytes,
                restores,
                restoreMedianSeconds: round(restoreMedian),
                restoreMiBPerSecond: round(databaseBytes / MIB / restoreMedian, 1),
                ratioToPlainCopy: round(ratio),
                goalMet: restoreMedian <= GOAL_MAX_RATIO * copyMedian,
            });
        }

        const notes = [
            `S3 is moto_server ${versions.moto}, a local S3 emulator on loopback (${moto.endpoint}), not AWS: ` +
                "no network latency or bandwidth limit, and its slow uploads say nothing about S3's.",
            "Restore = barman-cloud-restore downloading and unpacking the base backup into an empty dir, plus `sync -f`; " +
                "fetching WAL, recovery and server start are not included.",
            "Plain copy = `cp -a` of the cleanly stopped data dir without pg_wal (as a base backup leaves it out), plus `sync -f`, " +
                "on the same filesystem as the restores.",
            "MiB/s = database size (sum of pg_database_size) / seconds; medians of the runs listed.",
            `Backups as production takes them: --encryption ${BACKUP_ENCRYPTION} (moto only records it), --jobs ${BACKUP_JOBS}, --immediate-checkpoint.`,
            "The data: a pgbench_accounts-like table with hex md5 filler (about half-compressible), no index.",
            `Both the copy source and the backups were in memory (page cache / moto) when read; the machine's load average was ${machine.loadAverageAtStart.join(", ")} at the start.`,
        ];
        if (Math.abs(sizeMiB - GOAL_SIZE_MIB) > GOAL_SIZE_MIB * 0.25) {
            notes.push(`The goal is stated for 1 GB; this run loaded ${sizeMiB} MiB, so goalMet is for this size only.`);
        }
        return {
            benchmark: "restore-throughput",
            startedAt,
            finishedAt: new Date().toISOString(),
            goal: { text: GOAL, maxRatioToPlainCopy: GOAL_MAX_RATIO, sizeMiB: GOAL_SIZE_MIB },
            notes,
            machine,
            loadAverageAtEnd: os.loadavg().map((l) => round(l)),
            versions,
            s3: { emulator: "moto_server, a local S3 emulator on loopback", endpoint: moto.endpoint, jobs: BACKUP_JOBS, encryption: BACKUP_ENCRYPTION },
            repeats,
            database: {
                requestedMiB: sizeMiB,
                sizeBytes: databaseBytes,
                tableBytes: loaded.tableBytes,
                rows: loaded.rows,
                loadSeconds,
                dataDirBytes,
                pgWalBytes,
            },
            plainCopy: {
                method: "cp -a of the stopped data dir without pg_wal, then sync -f",
                runs: copies,
                medianSeconds: round(copyMedian),
                miBPerSecond: round(databaseBytes / MIB / copyMedian, 1),
            },
            compressions: results,
        };
    } finally {
        say("cleaning up");
        await teardown.runAll();
        stopHandlingSignals();
    }
}

/** The table and the notes, for humans. */
export function formatRestoreThroughput(result: RestoreThroughputResult): string {
    const m = result.machine;
    const db = result.database;
    const copy = result.plainCopy;
    const rows = result.compressions.map((c) =>
        c.status === "skipped"
            ? [c.compression, "-", "-", "-", "-", "-", "skipped (below)"]
            : [
                  c.compression,
                  fmt(c.uploadSeconds, 1),
                  fmt(c.storedBytes / MIB, 0),
                  fmt(c.restoreMedianSeconds),
                  fmt(c.restoreMiBPerSecond, 1),
                  fmt(c.ratioToPlainCopy),
                  c.goalMet ? "met" : "NOT MET",
              ],
    );
    return [
        `Restore throughput: ${fmt(db.sizeBytes / MIB, 0)} MiB database (${db.rows} rows), PostgreSQL ${result.versions.postgres.split(" ")[1]}, ${result.versions.barmanCloud}`,
        `Machine: ${m.cpus} x ${m.cpuModel}, ${m.memoryMiB} MiB RAM, ${m.os}, ${m.filesystem.fstype} on ${m.filesystem.source}`,
        `S3: moto_server ${result.versions.moto} - a LOCAL S3 EMULATOR on loopback, not AWS S3.`,
        `Plain copy (${copy.method}): median ${fmt(copy.medianSeconds)} s of ${copy.runs.length}, ${fmt(copy.miBPerSecond, 1)} MiB/s`,
        `Goal: ${result.goal.text}`,
        "",
        formatTable(
            ["compression", "upload s", "stored MiB", `restore s (median of ${result.repeats})`, "restore MiB/s", "x plain copy", `goal (<= ${result.goal.maxRatioToPlainCopy}x)`],
            rows,
        ),
        ...result.compressions.flatMap((c) => (c.status === "skipped" ? [`${c.compression} skipped: ${c.reason}`] : [])),
        "",
        ...result.notes.map((n) => `- ${n}`),
    ].join("\n");
}

function positiveInt(value: string): number {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) {
        throw new Error(`not a positive integer: ${value}`);
    }
    return n;
}

if (require.main === module) {
    const program = new Command()
        .name("restoreThroughput")
        .description("Time barman-cloud base backup restores (from moto, a local S3 emulator) against a plain copy of the data dir")
        .option("--size-mb <n>", "MiB of table data to load", positiveInt, GOAL_SIZE_MIB)
        .option("--repeats <n>", "restores per backup and plain copies; the median counts", positiveInt, 3)
        .option("--compressions <list>", "comma-separated", DEFAULT_COMPRESSIONS.join(","))
        .option("-o, --out <file>", "JSON result", "bench-restore.json")
        .parse();
    const opts = program.opts<{ sizeMb: number; repeats: number; compressions: string; out: string }>();
    benchRestoreThroughput({
        sizeMB: opts.sizeMb,
        repeats: opts.repeats,
        compressions: opts.compressions.split(",").map((c) => c.trim()).filter((c) => c !== ""),
    })
        .then((result) => {
            const out = path.resolve(opts.out);
            fs.writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
            console.log(formatRestoreThroughput(result));
            console.error(`wrote ${out}`);
        })
        .catch((error: Error) => {
            console.error(error.message);
            process.exit(1);
        });
}
