// Point-in-time restore time versus size (`npm run bench -- --only pitr`): for each database size,
// a base backup and archived WAL in moto, then what a user facing a bad DELETE waits for: restore
// the base backup (barman-cloud-restore) and replay WAL (barman-cloud-wal-restore) up to a target
// time, until the server promotes. Reported per size with throughput and the ratio to a plain
// copy of the same data dir in the same run, so an RTO can be sized from it.

import * as os from "os";
import { LocalPostgres } from "../local/postgres";
import { runChecked, waitFor } from "../local/processes";
import { processTeardown } from "../local/teardown";
import { requireTools, systemPath, TOOLS } from "../local/tools";
import { makeTempDir, removeDir, serviceUser } from "../local/user";
import { codec } from "./codecs";
import { BACKUP_JOBS, BUCKET, loadTable, onlyBackupId, plainCopy, startServers, timed, versions, Versions } from "./dataset";
import { Phases, PhaseTiming } from "./phases";
import { formatTable, machineInfo, MachineInfo, median, MIB, round, seconds } from "./support";

/** Three sizes that finish in minutes on the 2-core machine (each WAL segment fetch starts a Python process). */
export const DEFAULT_PITR_SIZES_MIB = [32, 64, 128];
const DESTINATION = `s3://${BUCKET}/barman`;
const SERVER = "bench-pitr";
/** Every 20th row changes before the target (replayed) and a different 20th after it (must not be). */
const BEFORE_TARGET = "UPDATE bench_accounts SET abalance = -1 WHERE aid % 20 = 0";
const AFTER_TARGET = "UPDATE bench_accounts SET abalance = -2 WHERE aid % 20 = 10";

export interface PitrMeasurement {
    requestedMiB: number;
    databaseBytes: number;
    /** WAL written between the end of the base backup and the target, which recovery replays. */
    walBytesToReplay: number;
    baseRestoreSeconds: number;
    replaySeconds: number;
    totalSeconds: number;
    plainCopyMedianSeconds: number;
    /** One barman-cloud-wal-restore of one archived segment: recovery pays it per segment, one after another. */
    segmentFetchSeconds: number;
    miBPerSecond: number;
    ratioToPlainCopy: number;
}

export interface PitrResult {
    part: "pitr";
    machine: MachineInfo;
    versions: Versions;
    compression: { wal: string; data: string };
    repeats: number;
    sizes: PitrMeasurement[];
    phases: PhaseTiming[];
}

export interface PitrOptions {
    sizesMiB: number[];
    /** Plain copies per size (the median counts); the restore runs once per size. */
    repeats: number;
    walCompression: string;
    dataCompression: string;
    log: (line: string) => void;
}

async function measureSize(sizeMiB: number, o: PitrOptions, phases: Phases): Promise<{ m: PitrMeasurement; versions: Versions }> {
    const say = (l: string) => phases.say(`${sizeMiB} MiB: ${l}`);
    const user = serviceUser();
    // Ctrl-C runs processTeardown, and with it this scope: servers, commands and temp dirs go.
    const teardown = processTeardown.scope(`bench pitr ${sizeMiB} MiB`);
    const walFlag = codec(o.walCompression).backupFlag;
    const dataFlag = codec(o.dataCompression).backupFlag;
    const timeoutMs = 300000 + sizeMiB * 6000;
    try {
        const servers = await phases.run(`${sizeMiB} MiB: start moto_server and an archiving PostgreSQL`, () =>
            startServers(teardown, "bench-pitr", (moto) => ({
                wal_level: "replica",
                autovacuum: false,
                max_wal_size: "2GB",
                archive_mode: "on",
                archive_timeout: "10s",
                archive_command: `barman-cloud-wal-archive --endpoint-url ${moto.endpoint} ${walFlag ?? ""} ${DESTINATION} ${SERVER} %p`,
            })),
        );
        const { moto, pg } = servers;
        const v = await versions(pg);
        const loaded = await phases.run(`${sizeMiB} MiB: load`, () => loadTable(pg, sizeMiB * MIB, say));
        await phases.run(`${sizeMiB} MiB: base backup (${o.dataCompression})`, () =>
            runChecked(
                "barman-cloud-backup",
                ["--endpoint-url", moto.endpoint, ...(dataFlag ? [dataFlag] : []), "--jobs", String(BACKUP_JOBS), "--immediate-checkpoint",
                    "-h", pg.socketDir, "-p", String(pg.port), "-U", pg.superuser, DESTINATION, SERVER],
                { env: servers.env, runAs: user.runAs, timeoutMs },
            ),
        );
        const backupId = await onlyBackupId(servers, DESTINATION, SERVER);
        const { targetTime, walBytesToReplay, changed, lastSegment } = await phases.run(`${sizeMiB} MiB: write WAL, mark the target, write past it, archive`, async () => {
            const [{ lsn: before }] = await pg.query<{ lsn: string }>("SELECT pg_current_wal_lsn()::text AS lsn");
            const [{ n }] = await pg.query<{ n: number }>(`WITH u AS (${BEFORE_TARGET} RETURNING 1) SELECT count(*)::int AS n FROM u`);
            const [{ lsn: after, at }] = await pg.query<{ lsn: string; at: string }>("SELECT pg_current_wal_lsn()::text AS lsn, clock_timestamp()::text AS at");
            await new Promise((resolve) => setTimeout(resolve, 1100));
            await pg.query(AFTER_TARGET);
            const [{ seg }] = await pg.query<{ seg: string }>("SELECT pg_walfile_name(pg_switch_wal()) AS seg");
            await waitFor(
                `WAL segment ${seg} archived to moto`,
                async () => (await pg.query<{ w: string | null }>("SELECT last_archived_wal AS w FROM pg_stat_archiver"))[0].w! >= seg,
                timeoutMs,
                500,
            );
            const [{ d }] = await pg.query<{ d: string }>("SELECT pg_wal_lsn_diff($1, $2)::bigint AS d", [after, before]);
            return { targetTime: at, walBytesToReplay: Number(d), changed: n, lastSegment: seg };
        });
        const workDir = makeTempDir("bench-pitr-work", user);
        teardown.add(`remove ${workDir}`, () => removeDir(workDir));
        const copy = await phases.run(`${sizeMiB} MiB: plain copy x${o.repeats}`, () => plainCopy(pg, workDir, o.repeats, timeoutMs, say));
        const copyMedian = median(copy.runs.map((r) => r.seconds));
        await pg.stop("fast");

        const segmentFetches: number[] = [];
        await phases.run(`${sizeMiB} MiB: fetch one WAL segment (barman-cloud-wal-restore x${o.repeats})`, async () => {
            for (let i = 1; i <= o.repeats; i++) {
                const into = `${workDir}/segment-${i}`;
                const started = performance.now();
                await runChecked("barman-cloud-wal-restore", ["--endpoint-url", moto.endpoint, DESTINATION, SERVER, lastSegment, into], {
                    env: servers.env,
                    runAs: user.runAs,
                    timeoutMs,
                });
                segmentFetches.push(seconds(started));
            }
        });

        let baseRestoreSeconds = 0;
        const start = performance.now();
        const restored = await phases.run(`${sizeMiB} MiB: restore the base backup (barman-cloud-restore + sync), start recovery`, () =>
            LocalPostgres.adopt({
                name: "bench-pitr-restored",
                env: moto.awsEnv(),
                startTimeoutMs: timeoutMs,
                populate: async (server) => {
                    const run = await timed(server.dataDir, () =>
                        server.run("barman-cloud-restore", ["--endpoint-url", moto.endpoint, DESTINATION, SERVER, backupId, server.dataDir], {}, timeoutMs),
                    );
                    baseRestoreSeconds = run.seconds;
                },
                settings: {
                    restore_command: `barman-cloud-wal-restore --endpoint-url ${moto.endpoint} ${DESTINATION} ${SERVER} %f %p`,
                    recovery_target_time: targetTime,
                    recovery_target_action: "promote",
                    archive_mode: "off",
                    max_wal_size: "2GB",
                },
                signal: "recovery",
            }),
        );
        teardown.add("remove the restored PostgreSQL", () => restored.cleanup());
        await phases.run(`${sizeMiB} MiB: replay WAL to the target and promote`, () =>
            waitFor("recovery to reach the target and promote", async () => (await restored.query<{ r: boolean }>("SELECT pg_is_in_recovery() AS r"))[0].r === false, timeoutMs),
        );
        const totalSeconds = seconds(start);
        const [{ a, b }] = await restored.query<{ a: number; b: number }>(
            "SELECT count(*) FILTER (WHERE abalance = -1)::int AS a, count(*) FILTER (WHERE abalance = -2)::int AS b FROM bench_accounts",
        );
        if (a !== changed || b !== 0) {
            throw new Error(`the restore did not stop at the target: ${a} of ${changed} rows changed before it, ${b} rows changed after it (expected 0)`);
        }
        say(`restored to ${targetTime}: ${a} rows as before the target, none of the later change`);
        return {
            versions: v,
            m: {
                requestedMiB: sizeMiB,
                databaseBytes: loaded.databaseBytes,
                walBytesToReplay,
                baseRestoreSeconds: round(baseRestoreSeconds),
                replaySeconds: round(totalSeconds - baseRestoreSeconds),
                totalSeconds: round(totalSeconds),
                plainCopyMedianSeconds: round(copyMedian),
                segmentFetchSeconds: round(median(segmentFetches)),
                miBPerSecond: round(loaded.databaseBytes / MIB / totalSeconds, 1),
                ratioToPlainCopy: round(totalSeconds / copyMedian),
            },
        };
    } finally {
        await teardown.runAll().catch((err: Error) => o.log(err.message));
    }
}

export async function benchPitr(o: PitrOptions): Promise<PitrResult> {
    requireTools([TOOLS.barmanBackup, TOOLS.barmanRestore, TOOLS.barmanWalArchive, TOOLS.barmanWalRestore], systemPath(), serviceUser().runAs);
    const phases = new Phases(o.log);
    const machine = await machineInfo(os.tmpdir());
    const sizes: PitrMeasurement[] = [];
    let v: Versions | undefined;
    for (const size of o.sizesMiB) {
        const r = await measureSize(size, o, phases);
        sizes.push(r.m);
        v = r.versions;
    }
    return { part: "pitr", machine, versions: v!, compression: { wal: o.walCompression, data: o.dataCompression }, repeats: o.repeats, sizes, phases: phases.timings };
}

export function formatPitr(r: PitrResult): string {
    const f = (n: number, d = 2) => n.toFixed(d);
    return [
        `Point-in-time restore: base backup (${r.compression.data}) + WAL (${r.compression.wal}) from moto_server ${r.versions.moto} (local S3 emulator), ` +
            `PostgreSQL ${r.versions.postgres}, ${r.versions.barmanCloud}, ${r.machine.cpus} x ${r.machine.cpuModel}`,
        "",
        formatTable(
            ["database MiB", "WAL replayed MiB", "base restore s", "WAL replay + promote s", "total s", "MiB/s", `plain copy s (median of ${r.repeats})`, "x plain copy", "one WAL segment fetch s"],
            r.sizes.map((m) => [
                f(m.databaseBytes / MIB, 0),
                f(m.walBytesToReplay / MIB, 0),
                f(m.baseRestoreSeconds),
                f(m.replaySeconds),
                f(m.totalSeconds),
                f(m.miBPerSecond, 1),
                f(m.plainCopyMedianSeconds),
                f(m.ratioToPlainCopy, 1),
                f(m.segmentFetchSeconds),
            ]),
        ),
        "",
        "- total = barman-cloud-restore of the base backup + sync, then PostgreSQL start, WAL fetched one segment at a time by",
        "  barman-cloud-wal-restore and replayed to recovery_target_time, until pg_is_in_recovery() is false (promoted).",
        "- WAL replayed: every 20th row updated after the backup (a full-page image of nearly every page), then the target time;",
        "  a second update after the target must be absent (checked).",
        "- PostgreSQL asks for WAL one segment (16 MiB) at a time and barman-cloud-wal-restore starts a Python process for each,",
        "  so replay time grows with segments x one fetch; CloudNativePG's plugin prefetches wal.maxParallel segments at once,",
        "  which this local run does not do.",
    ].join("\n");
}
