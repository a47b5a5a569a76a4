// WAL archiving with barman-cloud-wal-archive, a barman-cloud-backup base backup, and
// scripts/verify-physical.sh restoring them, against a real PostgreSQL and the S3 emulator.

import { DeleteObjectCommand } from "@aws-sdk/client-s3";
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { parseConfig, readStackConfig } from "../../config";
import { HEARTBEAT } from "../../model/contract";
import { declaredArchiveEncryption } from "../../drill/declared";
import { encryptionArgs } from "../../drill/topology";
import { MotoServer } from "../../local/motoServer";
import { LocalPostgres } from "../../local/postgres";
import { runChecked, sleep, waitFor } from "../../local/processes";
import { FakePushgateway } from "../../local/pushgateway";
import { TcpProxy } from "../../local/tcpProxy";
import { systemPath } from "../../local/tools";
import { serviceUser } from "../../local/user";
import {
    assertFailedWith,
    assertSucceeded,
    getObject,
    JobSandbox,
    listKeys,
    metricValue,
    nowSeconds,
    parseMetrics,
    requireJobTools,
    teardownForSuite,
} from "./harness";

/** What the primary stack's archive ObjectStore declares (read in the suite's before hook). */
let declaredEncryption: Awaited<ReturnType<typeof declaredArchiveEncryption>> | undefined;

/** Short, so the test need not wait minutes; production's comes from config/derive.ts. */
const ARCHIVE_TIMEOUT_SECONDS = 5;

interface ArchiverStats {
    archived_count: number;
    failed_count: number;
    last_archived_wal: string | null;
}

async function archiverStats(pg: LocalPostgres): Promise<ArchiverStats> {
    const [row] = await pg.query(
        "SELECT archived_count::int, failed_count::int, last_archived_wal FROM pg_stat_archiver",
    );
    return row as ArchiverStats;
}

/** Forces a segment switch and waits until everything up to it is in the archive. */
async function switchAndWaitArchived(pg: LocalPostgres, timeoutMs = 120000): Promise<string> {
    const [{ segment }] = await pg.query<{ segment: string }>("SELECT pg_walfile_name(pg_switch_wal()) AS segment");
    await waitFor(
        `segment ${segment} to be archived`,
        async () => {
            const stats = await archiverStats(pg);
            return stats.last_archived_wal !== null && stats.last_archived_wal >= segment;
        },
        timeoutMs,
        500,
    );
    return segment;
}

/** The barman-cloud WAL archiving a CloudNativePG instance does, as archive_command. */
function archiveCommand(endpoint: string, destination: string, server: string): string {
    return ["barman-cloud-wal-archive --gzip", ...encryptionArgs(declaredEncryption!.walEncryption), `--endpoint-url ${endpoint} ${destination} ${server} %p`].join(" ");
}

/** A base backup as CloudNativePG's ScheduledBackup takes it (barman-cloud-backup, as the server's user). */
async function baseBackup(pg: LocalPostgres, moto: MotoServer, endpoint: string, destination: string, server: string): Promise<void> {
    const jobHome = pg.baseDir;
    await runChecked(
        "barman-cloud-backup",
        [
            "--endpoint-url", endpoint,
            "--gzip",
            ...encryptionArgs(declaredEncryption!.dataEncryption),
            "--immediate-checkpoint",
            "-h", pg.socketDir,
            "-p", String(pg.port),
            "-U", pg.superuser,
            destination,
            server,
        ],
        { env: { PATH: systemPath(), HOME: jobHome, ...moto.awsEnv() }, runAs: serviceUser().runAs, timeoutMs: 180000 },
    );
}

/** Commits one row every `everyMs` for `forMs`, switching segments now and then; returns rows committed. */
async function commitFor(pg: LocalPostgres, table: string, forMs: number, everyMs = 200, switchEveryMs = 0): Promise<number> {
    const client = await pg.connect();
    let committed = 0;
    try {
        const end = Date.now() + forMs;
        let nextSwitch = switchEveryMs > 0 ? Date.now() + switchEveryMs : Infinity;
        while (Date.now() < end) {
            await client.query(`INSERT INTO ${table} DEFAULT VALUES`);
            committed++;
            if (Date.now() >= nextSwitch) {
                await client.query("SELECT pg_switch_wal()");
                nextSwitch = Date.now() + switchEveryMs;
            }
            await sleep(everyMs);
        }
    } finally {
        await client.end();
    }
    return committed;
}

describe("physical backups: WAL archive + base backup + restore verification", function () {
    this.timeout(900000);

    let moto: MotoServer | undefined;
    let gateway: FakePushgateway | undefined;
    let jobs: JobSandbox | undefined;

    const teardown = teardownForSuite("physical backup tests");

    before(async function () {
        requireJobTools();
        // The encryption the archive uses is the one the program declares (none: the bucket default key).
        declaredEncryption = await declaredArchiveEncryption("primary");
        const m = (moto = await MotoServer.start());
        teardown.add("stop moto_server", () => m.stop());
        const g = (gateway = await FakePushgateway.start());
        teardown.add("stop the pushgateway", () => g.stop());
        const j = (jobs = JobSandbox.create("physical"));
        teardown.add("remove the job sandbox", () => j.cleanup());
    });

    it("fails naming the cause when there is no base backup", async function () {
        await moto!.createBucket("drstack-empty-test");
        const r = await jobs!.run("verify-physical.sh", {
            ...moto!.awsEnv(),
            S3_ENDPOINT_URL: moto!.endpoint,
            BARMAN_DESTINATION: "s3://drstack-empty-test/barman",
            BARMAN_SERVER_NAME: "pg-test-use1",
            CLUSTER_NAME: "pg-test-use1",
            RPO_SECONDS: "300",
            METRICS_FILE: jobs!.path("empty.prom"),
        });
        const reason = assertFailedWith(r, /^no completed base backup of pg-test-use1 in s3:\/\/drstack-empty-test\/barman$/);
        assert.equal(metricValue(parseMetrics(jobs!.readFile("empty.prom")), "drstack_restore_verification_success"), 0);
        const result = JSON.parse((await getObject(moto!.s3(), "drstack-empty-test", "verification/pg-test-use1/physical-latest.json")).toString());
        assert.equal(result.reason, reason);
    });

    describe("archive, back up, restore", function () {
        const bucket = "drstack-physical-test";
        const server = "pg-test-use1";
        const destination = `s3://${bucket}/barman`;
        let pg: LocalPostgres | undefined;
        let committed = 0;
        let lastCommit = 0;

        function verifyEnv(extra: Record<string, string> = {}): Record<string, string> {
            return {
                ...moto!.awsEnv(),
                S3_ENDPOINT_URL: moto!.endpoint,
                BARMAN_DESTINATION: destination,
                BARMAN_SERVER_NAME: server,
                CLUSTER_NAME: server,
                METRICS_FILE: jobs!.path("verify-physical.prom"),
                PUSHGATEWAY_URL: gateway!.url,
                ...extra,
            };
        }

        before(async function () {
            await moto!.createBucket(bucket);
            pg = await LocalPostgres.start({
                name: "physical",
                settings: {
                    wal_level: "replica",
                    archive_mode: "on",
                    archive_timeout: ARCHIVE_TIMEOUT_SECONDS,
                    archive_command: archiveCommand(moto!.endpoint, destination, server),
                },
                env: moto!.awsEnv(),
            });
            await pg.query("CREATE TABLE payments (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp())");
            await pg.query("INSERT INTO payments (at) SELECT clock_timestamp() FROM generate_series(1, 1000)");
            const started = Date.now();
            await baseBackup(pg, moto!, moto!.endpoint, destination, server);
            console.log(`      base backup took ${Date.now() - started} ms`);

            // Commits after the backup, spread over several segments, then silence: the last
            // segment is shipped only because archive_timeout forces the switch.
            await commitFor(pg, "payments", 8000, 100, 3000);
            const [row] = await pg.query<{ n: string; last: Date }>("SELECT count(*) AS n, max(at) AS last FROM payments");
            committed = Number(row.n);
            lastCommit = row.last.getTime();
            const [{ segment }] = await pg.query<{ segment: string }>("SELECT pg_walfile_name(pg_current_wal_lsn()) AS segment");
            await waitFor(
                "the segment of the last commit to be archived (by archive_timeout)",
                async () => ((await archiverStats(pg!)).last_archived_wal ?? "") >= segment,
                60000,
                250,
            );
            console.log(`      last commit archived ${Date.now() - lastCommit} ms after it was made (archive_timeout ${ARCHIVE_TIMEOUT_SECONDS}s)`);
        });

        after(async function () {
            await pg?.cleanup();
        });

        it("restores the newest base backup, replays to the last commit and checks the RPO from the stack config", async function () {
            // The production check uses the data-corruption RPO of the stack (point-in-time restore
            // in-region is what this verification proves).
            const rpoSeconds = parseConfig(readStackConfig("primary"), "primary").rpo.dataCorruptionSeconds;
            assert.equal(rpoSeconds, 300);
            const checks = jobs!.writeFile(
                "payments.sql",
                `SELECT count(*) = ${committed}, 'payments: ' || count(*) || ' rows, committed ${committed}' FROM payments;\n`,
            );
            const r = await jobs!.run("verify-physical.sh", verifyEnv({ RPO_SECONDS: String(rpoSeconds), VERIFY_SQL_FILE: checks }));
            assertSucceeded(r);
            console.log(`      physical restore verification took ${r.durationMs} ms`);
            assert.match(r.stdout, /\(RPO 300s\)/);

            const result = JSON.parse((await getObject(moto!.s3(), bucket, `verification/${server}/physical-latest.json`)).toString());
            assert.equal(result.success, true);
            assert.equal(result.rpo_seconds, rpoSeconds);
            assert.equal(result.recovery_end_segment, result.archive_newest_segment, "replay reached the newest archived segment");
            assert.match(result.recovery_end_lsn, /^[0-9A-F]+\/[0-9A-F]+$/);
            const recoveryPoint = Date.parse(result.recovery_point_time);
            const lost = lastCommit - recoveryPoint;
            console.log(`      recovery point ${result.recovery_point_time}, last commit ${new Date(lastCommit).toISOString()}: ${lost} ms not recovered`);
            assert.ok(lost >= 0 && lost <= ARCHIVE_TIMEOUT_SECONDS * 1000, `recovery point within archive_timeout of the last commit (lost ${lost} ms)`);
            assert.ok(result.recovery_point_age_seconds <= rpoSeconds);

            const metrics = parseMetrics(jobs!.readFile("verify-physical.prom"));
            assert.ok(metrics.every((s) => s.labels.kind === "physical" && s.labels.cluster === server));
            assert.equal(metricValue(metrics, "drstack_restore_verification_success"), 1);
            assert.equal(metricValue(metrics, "drstack_restore_verification_recovery_point_age_seconds"), result.recovery_point_age_seconds);
            assert.ok(metricValue(metrics, "drstack_restore_verification_last_success_timestamp_seconds")! >= nowSeconds() - 600);
            const pushes = gateway!.pushesTo(`/metrics/job/drstack-restore-verification/kind/physical/cluster/${server}`);
            assert.equal(pushes.length, 1);
            assert.match(pushes[0].body, /drstack_restore_verification_recovery_point_age_seconds\{kind="physical",cluster="pg-test-use1"\} \d+\n/);
        });

        it("fails when the recovery point is older than RPO_SECONDS", async function () {
            await sleep(Math.max(0, lastCommit + 2000 - Date.now()));
            const r = await jobs!.run("verify-physical.sh", verifyEnv({ RPO_SECONDS: "1" }));
            const reason = assertFailedWith(r, /^recovery point age (\d+)s exceeds RPO_SECONDS=1 \(recovered to \S+Z, end of WAL [0-9A-F]+\/[0-9A-F]+\)$/);
            const age = Number(/age (\d+)s/.exec(reason)![1]);
            const metrics = parseMetrics(jobs!.readFile("verify-physical.prom"));
            assert.equal(metricValue(metrics, "drstack_restore_verification_success"), 0);
            assert.equal(metricValue(metrics, "drstack_restore_verification_recovery_point_age_seconds"), age);
        });

        it("an idle database with the heartbeat passes the RPO check: the recovery point is the newest heartbeat, not the last app commit", async function () {
            // No application commit for IDLE_MS; the heartbeat (the stack's SQL, model/contract.ts
            // HEARTBEAT) commits every HEARTBEAT_MS meanwhile, scaled down like archive_timeout.
            // Long enough that the verification's own run time (15-35 s on an idle 2-core VM, 72 s seen
            // under a concurrent drill) stays below it.
            const IDLE_MS = 120000;
            const HEARTBEAT_MS = 2000;
            this.timeout(IDLE_MS + 360000);
            const idleSince = Date.now();
            let lastHeartbeat = idleSince;
            while (Date.now() - idleSince < IDLE_MS) {
                await pg!.query(HEARTBEAT.sql);
                lastHeartbeat = Date.now();
                await sleep(HEARTBEAT_MS);
            }
            const [{ segment }] = await pg!.query<{ segment: string }>("SELECT pg_walfile_name(pg_current_wal_lsn()) AS segment");
            await waitFor("the segment of the last heartbeat to be archived", async () => ((await archiverStats(pg!)).last_archived_wal ?? "") >= segment, 60000, 250);
            // The age the script checks is taken when it ends, so it counts the verification's own run
            // time V for the heartbeat and the last app commit alike. An RPO just under "the newest
            // heartbeat's age now + IDLE_MS" passes with the heartbeat whenever V < IDLE_MS, and the last
            // app commit (at least IDLE_MS older than the newest heartbeat) is beyond it: the margin is
            // derived from the measured idle period, not a constant, so a loaded machine does not flip it.
            const rpoSeconds = Math.floor((Date.now() - lastHeartbeat + IDLE_MS) / 1000) - 1;
            const r = await jobs!.run("verify-physical.sh", verifyEnv({ RPO_SECONDS: String(rpoSeconds) }));
            assertSucceeded(r);
            const result = JSON.parse((await getObject(moto!.s3(), bucket, `verification/${server}/physical-latest.json`)).toString());
            const lastAppCommitAge = (Date.now() - lastCommit) / 1000;
            assert.ok(lastAppCommitAge > rpoSeconds, `the last application commit is ${lastAppCommitAge}s old, beyond the RPO`);
            assert.ok(Date.parse(result.recovery_point_time) >= idleSince, `recovered to a heartbeat (${result.recovery_point_time}), after the idle period began`);
            assert.ok(result.recovery_point_age_seconds <= rpoSeconds);
        });

        it("detects a segment missing from the archive (a gap), which PostgreSQL itself silently promotes past", async function () {
            const wals = (await listKeys(moto!.s3(), bucket, `barman/${server}/wals/`))
                .map((k) => /\/([0-9A-F]{24})\.gz$/.exec(k)?.[1])
                .filter((n): n is string => n !== undefined);
            const backups = await listKeys(moto!.s3(), bucket, `barman/${server}/base/`);
            assert.equal(backups.filter((k) => k.endsWith("backup.info")).length, 1);
            // A segment after the base backup's own, before the newest: replay needs it to go on.
            assert.ok(wals.length >= 5, `enough archived segments: ${wals.join(", ")}`);
            const victim = wals[wals.length - 3];
            await moto!.s3().send(new DeleteObjectCommand({ Bucket: bucket, Key: `barman/${server}/wals/${victim.slice(0, 16)}/${victim}.gz` }));

            const r = await jobs!.run("verify-physical.sh", verifyEnv({ RPO_SECONDS: "300" }));
            const reason = assertFailedWith(r, new RegExp(`^gap in WAL archive: segment ${victim} missing \\(replay stopped at [0-9A-F]+/[0-9A-F]+\\)$`));
            const result = JSON.parse((await getObject(moto!.s3(), bucket, `verification/${server}/physical-latest.json`)).toString());
            assert.equal(result.success, false);
            assert.equal(result.reason, reason);
            assert.equal(result.missing_segment, victim);
        });
    });

    describe("S3 endpoint outage while PostgreSQL keeps committing", function () {
        const bucket = "drstack-outage-test";
        const server = "pg-outage-use1";
        const destination = `s3://${bucket}/barman`;
        let pg: LocalPostgres | undefined;
        let proxy: TcpProxy | undefined;
        const outage = teardownForSuite("S3 outage tests");

        before(async function () {
            await moto!.createBucket(bucket);
            const p = (proxy = await TcpProxy.start(moto!.port));
            outage.add("stop the proxy", () => p.stop());
            pg = await LocalPostgres.start({
                name: "outage",
                settings: {
                    wal_level: "replica",
                    archive_mode: "on",
                    archive_timeout: ARCHIVE_TIMEOUT_SECONDS,
                    // The archiver reaches S3 only through the proxy the test cuts.
                    archive_command: archiveCommand(proxy.endpoint, destination, server),
                },
                env: moto!.awsEnv(),
            });
            const outagePg = pg;
            outage.add("remove PostgreSQL", () => outagePg.cleanup());
            await pg.query("CREATE TABLE ledger (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp())");
            await baseBackup(pg, moto!, proxy.endpoint, destination, server);
            await switchAndWaitArchived(pg);
        });

        it("archiving fails and retries, PostgreSQL keeps the WAL, and every segment arrives afterwards: nothing is lost", async function () {
            const before = await archiverStats(pg!);
            const keysBefore = await listKeys(moto!.s3(), bucket, `barman/${server}/wals/`);

            proxy!.cut();
            const outageStarted = Date.now();
            const committedDuringOutage = await commitFor(pg!, "ledger", 12000, 100, 3000);
            // Failed, then failed again on retry: the archiver keeps trying while the endpoint is down.
            await waitFor(
                "repeated failed archive attempts",
                async () => (await archiverStats(pg!)).failed_count >= before.failed_count + 2,
                120000,
                500,
            );
            const during = await archiverStats(pg!);
            const statusDir = path.join(pg!.dataDir, "pg_wal", "archive_status");
            const waiting = fs.readdirSync(statusDir).filter((f) => f.endsWith(".ready")).map((f) => f.replace(/\.ready$/, ""));
            assert.ok(waiting.length >= 2, `segments wait in pg_wal for the archive: ${waiting.join(", ")}`);
            for (const segment of waiting) {
                assert.ok(fs.existsSync(path.join(pg!.dataDir, "pg_wal", segment)), `${segment} is kept in pg_wal`);
            }
            assert.equal(during.last_archived_wal, before.last_archived_wal, "nothing was archived during the outage");
            assert.deepEqual(await listKeys(moto!.s3(), bucket, `barman/${server}/wals/`), keysBefore);
            console.log(
                `      outage ${Date.now() - outageStarted} ms: ${committedDuringOutage} commits, ` +
                    `${during.failed_count - before.failed_count} failed archive attempts, ${waiting.length} segments waiting, ` +
                    `${proxy!.refusedWhileCut} connections refused`,
            );

            proxy!.restore();
            const restored = Date.now();
            const last = await switchAndWaitArchived(pg!, 180000);
            console.log(`      archive caught up to ${last} ${Date.now() - restored} ms after the endpoint came back`);
            // Up to the segment waited for: the still-running server may have switched to (and readied)
            // a newer one meanwhile (archive_timeout ${ARCHIVE_TIMEOUT_SECONDS}s), which is not a leftover of the outage.
            const remaining = fs
                .readdirSync(statusDir)
                .filter((f) => f.endsWith(".ready"))
                .map((f) => f.replace(/\.ready$/, ""))
                .filter((segment) => segment <= last);
            assert.deepEqual(remaining, [], `no segment up to ${last} left waiting`);
            const archived = (await listKeys(moto!.s3(), bucket, `barman/${server}/wals/`)).map((k) => path.basename(k, ".gz"));
            for (const segment of waiting) {
                assert.ok(archived.includes(segment), `${segment} reached the archive`);
            }

            const [{ n }] = await pg!.query<{ n: string }>("SELECT count(*) AS n FROM ledger");
            assert.equal(Number(n), committedDuringOutage);
            const checks = jobs!.writeFile(
                "ledger.sql",
                `SELECT count(*) = ${n}, 'ledger: ' || count(*) || ' rows after restore, ${n} committed' FROM ledger;\n`,
            );
            const r = await jobs!.run(
                "verify-physical.sh",
                {
                    ...moto!.awsEnv(),
                    S3_ENDPOINT_URL: moto!.endpoint,
                    BARMAN_DESTINATION: destination,
                    BARMAN_SERVER_NAME: server,
                    CLUSTER_NAME: server,
                    RPO_SECONDS: "3600",
                    VERIFY_SQL_FILE: checks,
                },
            );
            assertSucceeded(r);
            const result = JSON.parse((await getObject(moto!.s3(), bucket, `verification/${server}/physical-latest.json`)).toString());
            assert.equal(result.success, true);
            // The archive is listed before the restore; a segment archived meanwhile may be replayed too.
            assert.ok(result.recovery_end_segment >= result.archive_newest_segment, `replay ended at ${result.recovery_end_segment}, archive listed up to ${result.archive_newest_segment}`);
        });
    });
});
