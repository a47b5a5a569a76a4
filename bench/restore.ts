// Restore by compression (`npm run bench -- --only restore`): how fast a barman-cloud base backup
// restores next to a plain copy of the same data dir, and where the time goes. barman-cloud-restore
// streams each tar through one Python process (barman/cloud.py, CloudInterface.extract_tar: S3 GET,
// decompress, tarfile.extractall), so besides the end-to-end restore each phase is timed alone:
// start-up (barman-cloud-backup-list), download (S3 GETs of the same objects), decompression (same codec, same Python libraries,
// to nowhere) and unpack (Python's tarfile, as barman; GNU tar for reference). Compressions the
// installed barman-cloud cannot write (lz4 needs Barman >= 3.18) are measured as codecs on the
// plain tar, with the restore estimated from the measured phases and marked as such.

import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { requireTools, systemPath, TOOLS } from "../local/tools";
import { runChecked } from "../local/processes";
import { processTeardown } from "../local/teardown";
import { makeTempDir, removeDir, serviceUser } from "../local/user";
import { barmanCannotWrite, codec, CodecName, CodecRunner } from "./codecs";
import {
    BACKUP_JOBS,
    BUCKET,
    commandOutput,
    deleteObjects,
    downloadObjects,
    listObjects,
    loadTable,
    LoadedTable,
    onlyBackupId,
    plainCopy,
    PlainCopy,
    startServers,
    timed,
    TimedRun,
    versions,
    Versions,
} from "./dataset";
import { Phases, PhaseTiming } from "./phases";
import { machineInfo, MachineInfo, median, MIB, round } from "./support";

export const GOAL_MAX_RATIO = 2;
export const GOAL = `restoring the base backup takes at most ${GOAL_MAX_RATIO}x a plain copy of the data dir`;
/** Fits the shared 2-core machine: the whole part (3 backups, 3 restores each) finishes in minutes; --size for more. */
export const DEFAULT_SIZE_MIB = 128;
const DESTINATION = `s3://${BUCKET}/barman`;

export interface MeasuredByBarman {
    compression: CodecName;
    status: "measured";
    backupSeconds: number;
    /** The backup's tar(s) in the bucket. */
    storedBytes: number;
    restores: TimedRun[];
    restoreMedianSeconds: number;
    downloadMedianSeconds: number;
    /** Decompression alone, to nowhere; 0 for none. */
    decompressMedianSeconds: number;
    ratioToPlainCopy: number;
}

export interface MeasuredAsCodec {
    compression: CodecName;
    status: "codec-only";
    /** Why barman-cloud here could not take the backup. */
    reason: string;
    /** The plain tar compressed locally with the codec. */
    storedBytes: number;
    decompressMedianSeconds: number;
    /** The uncompressed restore, less the download the smaller tar saves, plus decompression: an estimate. */
    estimatedRestoreSeconds: number;
    estimatedRatioToPlainCopy: number;
}

export interface SkippedCompression {
    compression: CodecName;
    status: "skipped";
    reason: string;
}

export type CompressionResult = MeasuredByBarman | MeasuredAsCodec | SkippedCompression;

export interface RestoreResult {
    part: "restore";
    goal: string;
    /** The compression the shipped stack uses for base backups (drstack:postgres.backupCompression). */
    shipped: string;
    machine: MachineInfo;
    versions: Versions;
    repeats: number;
    database: LoadedTable & { requestedMiB: number };
    plainCopy: PlainCopy & { medianSeconds: number };
    /** Unpacking the uncompressed tar alone: Python's tarfile (as barman) and GNU tar. */
    unpack: { pythonMedianSeconds: number; gnuTarMedianSeconds: number; tarBytes: number };
    /** barman-cloud-backup-list against the same backup: the Python/boto3 start-up every barman-cloud command pays. */
    startupSeconds: number;
    compressions: CompressionResult[];
    phases: PhaseTiming[];
    loadAverageAtEnd: number[];
}

export interface RestoreOptions {
    sizeMiB: number;
    repeats: number;
    compressions: CodecName[];
    shipped: string;
    log: (line: string) => void;
}

/** Runs `each(i)` `repeats` times and returns the median of what it measured. */
async function medianOf(repeats: number, each: (i: number) => Promise<number>): Promise<number> {
    const values: number[] = [];
    for (let i = 1; i <= repeats; i++) {
        values.push(await each(i));
    }
    return round(median(values));
}

export async function benchRestore(options: RestoreOptions): Promise<RestoreResult> {
    const { sizeMiB, repeats } = options;
    const phases = new Phases(options.log);
    const say = (l: string) => phases.say(l);
    const user = serviceUser();
    // Ctrl-C runs processTeardown, and with it this scope: servers, commands and temp dirs go.
    const teardown = processTeardown.scope("bench restore");
    // "none" first: its download and tar are the reference for the unpack phase and the codec-only estimates.
    const compressions = ["none" as CodecName, ...options.compressions.filter((c) => c !== "none")];
    try {
        requireTools([TOOLS.barmanBackup, TOOLS.barmanBackupList, TOOLS.barmanRestore], systemPath(), user.runAs);
        const machine = await machineInfo(os.tmpdir());
        // Catches a hang (a barman-cloud-backup whose upload workers died was seen waiting forever);
        // generous for moto, which once took ~286 s to take a 1.1 GB upload.
        const timeoutMs = 120000 + sizeMiB * 1500;
        const codecs = new CodecRunner(timeoutMs);
        const servers = await phases.run("start moto_server and PostgreSQL", () =>
            // Nothing may rewrite the table between the plain copy and the backups.
            startServers(teardown, "bench-restore", () => ({ wal_level: "replica", autovacuum: false, max_wal_size: "2GB" })),
        );
        const { moto, pg } = servers;
        const workDir = makeTempDir("bench-restore-work", user);
        teardown.add(`remove ${workDir}`, () => removeDir(workDir));
        const help = await commandOutput("barman-cloud-backup", ["--help"]);
        const v = await versions(pg);

        const loaded = await phases.run(`load ~${sizeMiB} MiB`, () => loadTable(pg, sizeMiB * MIB, say));
        say(`${loaded.rows} rows: table ${Math.round(loaded.tableBytes / MIB)} MiB, databases ${Math.round(loaded.databaseBytes / MIB)} MiB`);
        const copy = await phases.run(`plain copy x${repeats}`, () => plainCopy(pg, workDir, repeats, timeoutMs, say));
        const copyMedian = median(copy.runs.map((r) => r.seconds));

        const results: CompressionResult[] = [];
        const plainTar = path.join(workDir, "plain.tar");
        let plainDownloadSeconds = 0;
        let startupSeconds = 0;
        for (const name of compressions) {
            const c = codec(name);
            const reason = barmanCannotWrite(c, help, v.barmanCloud) ?? (await codecs.brokenBecause(name, workDir));
            if (reason) {
                results.push({ compression: name, status: "skipped", reason });
                say(`${name}: not through barman-cloud here: ${reason}`);
                continue;
            }
            const server = `bench-${name}`;
            const backupStart = performance.now();
            await phases.run(`backup ${name} (barman-cloud-backup to moto)`, () =>
                runChecked(
                    "barman-cloud-backup",
                    [
                        "--endpoint-url", moto.endpoint,
                        ...(c.backupFlag ? [c.backupFlag] : []),
                        "--jobs", String(BACKUP_JOBS),
                        "--immediate-checkpoint",
                        "-h", pg.socketDir, "-p", String(pg.port), "-U", pg.superuser,
                        DESTINATION, server,
                    ],
                    { env: servers.env, runAs: user.runAs, timeoutMs },
                ),
            );
            const backupSeconds = round((performance.now() - backupStart) / 1000);
            const backupId = await onlyBackupId(servers, DESTINATION, server);
            const prefix = `barman/${server}/base/${backupId}/`;
            const tars = (await listObjects(moto.s3(), prefix)).filter((o) => /\/data[^/]*\.tar/.test(o.Key));
            const storedBytes = tars.reduce((sum, o) => sum + o.Size, 0);
            say(`${name}: backup ${backupId}, ${(storedBytes / MIB).toFixed(0)} MiB of tar in the bucket`);

            const restores: TimedRun[] = [];
            await phases.run(`restore ${name} (barman-cloud-restore x${repeats})`, async () => {
                for (let i = 1; i <= repeats; i++) {
                    const target = path.join(workDir, `restore-${name}-${i}`);
                    const run = await timed(target, () =>
                        runChecked("barman-cloud-restore", ["--endpoint-url", moto.endpoint, DESTINATION, server, backupId, target], {
                            env: servers.env,
                            runAs: user.runAs,
                            timeoutMs,
                        }),
                    );
                    // A restore that wrote much less than the data dir did not restore it.
                    if (!fs.existsSync(path.join(target, "PG_VERSION")) || !fs.existsSync(path.join(target, "backup_label")) || run.bytes < 0.95 * copy.dataDirBytes) {
                        throw new Error(`restore ${i} of ${name} looks incomplete: ${run.bytes} bytes in ${target}, data dir has ${copy.dataDirBytes}`);
                    }
                    restores.push(run);
                    say(`${name}: restore ${i}/${repeats}: ${run.seconds.toFixed(2)} s (barman-cloud-restore ${run.commandSeconds.toFixed(2)} s + sync ${run.syncSeconds.toFixed(2)} s)`);
                    removeDir(target);
                }
            });

            const downloadDir = path.join(workDir, `download-${name}`);
            const downloadMedianSeconds = await phases.run(`download ${name} (S3 GET of the tars x${repeats})`, () =>
                medianOf(repeats, async () => {
                    removeDir(downloadDir);
                    fs.mkdirSync(downloadDir);
                    const run = await timed(downloadDir, () => downloadObjects(moto.s3(), tars.map((t) => t.Key), downloadDir));
                    return run.seconds;
                }),
            );
            if (name === "none") {
                // barman-cloud-restore's fixed cost: Python and boto3 start-up, reading the catalogue.
                startupSeconds = await phases.run(`barman-cloud start-up (barman-cloud-backup-list x${repeats})`, () =>
                    medianOf(repeats, async () => {
                        const start = performance.now();
                        await onlyBackupId(servers, DESTINATION, server);
                        return (performance.now() - start) / 1000;
                    }),
                );
            }
            const downloaded = tars.map((o) => path.join(downloadDir, path.basename(o.Key)));
            let decompressMedianSeconds = 0;
            if (name === "none") {
                if (downloaded.length !== 1) {
                    throw new Error(`expected one data tar in the uncompressed backup, found ${downloaded.length}`);
                }
                fs.renameSync(downloaded[0], plainTar);
                plainDownloadSeconds = downloadMedianSeconds;
            } else {
                decompressMedianSeconds = await phases.run(`decompress ${name} (x${repeats}, to nowhere)`, () =>
                    medianOf(repeats, async () => {
                        const start = performance.now();
                        for (const file of downloaded) {
                            await codecs.decompress(name, file);
                        }
                        return (performance.now() - start) / 1000;
                    }),
                );
            }
            removeDir(downloadDir);
            await deleteObjects(moto.s3(), `barman/${server}/`);
            const restoreMedianSeconds = round(median(restores.map((r) => r.seconds)));
            results.push({
                compression: name,
                status: "measured",
                backupSeconds,
                storedBytes,
                restores,
                restoreMedianSeconds,
                downloadMedianSeconds,
                decompressMedianSeconds,
                ratioToPlainCopy: round(restoreMedianSeconds / copyMedian),
            });
        }
        if (!fs.existsSync(plainTar)) {
            throw new Error("the uncompressed backup was not measured, so there is no tar to unpack");
        }
        const tarBytes = fs.statSync(plainTar).size;
        const unpackInto = (tool: (dir: string) => Promise<unknown>) =>
            medianOf(repeats, async (i) => {
                const target = path.join(workDir, `unpack-${i}`);
                fs.mkdirSync(target);
                const run = await timed(target, () => tool(target));
                removeDir(target);
                return run.seconds;
            });
        const pythonUnpack = await phases.run(`unpack (Python tarfile, as barman; x${repeats})`, () => unpackInto((dir) => codecs.unpack(plainTar, dir)));
        const gnuUnpack = await phases.run(`unpack (GNU tar, for reference; x${repeats})`, () =>
            unpackInto((dir) => runChecked("tar", ["-xf", plainTar, "-C", dir], { env: { PATH: systemPath() }, timeoutMs })),
        );

        // Compressions barman-cloud could not write here, as codecs on the same tar.
        for (const [index, r] of results.entries()) {
            if (r.status !== "skipped" || (await codecs.brokenBecause(r.compression, workDir))) {
                continue;
            }
            const compressed = `${plainTar}${codec(r.compression).suffix}`;
            await phases.run(`compress ${r.compression} (locally, the plain tar)`, () => codecs.compress(r.compression, plainTar, compressed));
            const storedBytes = fs.statSync(compressed).size;
            const decompressMedianSeconds = await phases.run(`decompress ${r.compression} (x${repeats}, to nowhere)`, () =>
                medianOf(repeats, async () => {
                    const start = performance.now();
                    await codecs.decompress(r.compression, compressed);
                    return (performance.now() - start) / 1000;
                }),
            );
            fs.rmSync(compressed, { force: true });
            // Anchored on the measured uncompressed restore (its phases overlap: moto serves while Python
            // unpacks, so summing phases overcounts): less download for the smaller tar, plus decompression.
            const noneRestore = results.find((x): x is MeasuredByBarman => x.status === "measured" && x.compression === "none")!.restoreMedianSeconds;
            const estimatedRestoreSeconds = round(noneRestore - plainDownloadSeconds * (1 - storedBytes / tarBytes) + decompressMedianSeconds);
            results[index] = {
                compression: r.compression,
                status: "codec-only",
                reason: r.reason,
                storedBytes,
                decompressMedianSeconds,
                estimatedRestoreSeconds,
                estimatedRatioToPlainCopy: round(estimatedRestoreSeconds / copyMedian),
            };
        }
        fs.rmSync(plainTar, { force: true });

        return {
            part: "restore",
            goal: GOAL,
            shipped: options.shipped,
            machine,
            versions: v,
            repeats,
            database: { ...loaded, requestedMiB: sizeMiB },
            plainCopy: { ...copy, medianSeconds: round(copyMedian) },
            unpack: { pythonMedianSeconds: pythonUnpack, gnuTarMedianSeconds: gnuUnpack, tarBytes },
            startupSeconds,
            compressions: results,
            phases: phases.timings,
            loadAverageAtEnd: os.loadavg().map((l) => round(l)),
        };
    } finally {
        say("cleaning up");
        await teardown.runAll().catch((err: Error) => options.log(err.message));
    }
}
