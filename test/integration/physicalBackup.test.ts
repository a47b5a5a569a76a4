// WAL archiving with barman-cloud-wal-archive, a barman-cloud-backup base backup, and
// scripts/verify-physical.sh restoring them, against a real PostgreSQL and the S3 emulator.

import { DeleteObjectCommand } from "@aws-sdk/client-s3";
import { strict as assert } from "assert";
import { parseConfig, readStackConfig } from "../../config";
import { HEARTBEAT } from "../../model/contract";
import { pointInTimeRestoreBoundSeconds } from "../../model/rpo";
import { MotoServer } from "../../local/motoServer";
import { LocalPostgres } from "../../local/postgres";
import { sleep, waitFor } from "../../local/processes";
import { FakePushgateway } from "../../local/pushgateway";
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
import { ARCHIVE_TIMEOUT_SECONDS, archiveCommand, baseBackup, commitFor, currentSegment, waitArchived } from "./physical";

describe("physical backups: WAL archive + base backup + restore verification", function () {
    this.timeout(900000);

    let moto: MotoServer | undefined;
    let gateway: FakePushgateway | undefined;
    let jobs: JobSandbox | undefined;

    const teardown = teardownForSuite("physical backup tests");

    before(async function () {
        requireJobTools();
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
        /** The last row's insert time and a server time after its commit was acknowledged (timestamptz text, microseconds). */
        let lastRowAt = "";
        let afterLastCommit = "";

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
                    // The recovery point is the newest commit in the WAL: an autoanalyze of `payments` commits a
                    // transaction of its own (its pg_statistic rows) up to a naptime after the workload, which
                    // would move it past the last commit the tests measure (seen: 14 s past it under load).
                    autovacuum: false,
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
            // This query runs after the last commit was acknowledged, so its clock_timestamp() is an upper bound on
            // that commit's timestamp, and the last row's `at` (taken inside the transaction) a lower bound.
            const [row] = await pg.query<{ n: string; last: Date; last_text: string; after_text: string }>(
                "SELECT count(*) AS n, max(at) AS last, max(at)::text AS last_text, clock_timestamp()::text AS after_text FROM payments",
            );
            committed = Number(row.n);
            lastCommit = row.last.getTime();
            [lastRowAt, afterLastCommit] = [row.last_text, row.after_text];
            await waitArchived(pg, await currentSegment(pg), "the last commit (by archive_timeout)", 60000);
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
            // The recovery point is pg_last_xact_replay_timestamp() in the restored server: the commit record's
            // time of the last transaction replayed, which lies after its row's `at` and before the next query ran.
            // Compared in the server at microseconds: in milliseconds the commit can look 1 ms early or late.
            console.log(`      recovery point ${result.recovery_point_time}, last row ${lastRowAt}, next query ${afterLastCommit}`);
            const [{ replayedLast }] = await pg!.query<{ replayedLast: boolean }>(
                `SELECT $1::timestamptz BETWEEN $2::timestamptz AND $3::timestamptz AS "replayedLast"`,
                [result.recovery_point_time, lastRowAt, afterLastCommit],
            );
            assert.ok(replayedLast, `recovery point ${result.recovery_point_time} is the last commit: between its row's time ${lastRowAt} and the next query ${afterLastCommit}`);
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
            // The production check (config/derive.ts verificationRpoSeconds) allows the data-corruption RPO,
            // archive_timeout + walUploadAllowance (model/rpo.ts), plus the heartbeat interval: the newest
            // commit the archive holds is at most that old when replay reaches its end, because the heartbeat
            // keeps committing and archive_timeout keeps shipping it. The same derivation here, with the
            // durations scaled to what this machine measures now (one WAL upload), not constants.
            const HEARTBEAT_SECONDS = 2;
            // The script's own wind-down between the end of replay and its age measurement: promotion,
            // its 2 s poll, one psql. 10 s was too little in a fresh-clone run beside a drill (recovery
            // point 31 s old against an RPO of 27 s after a 77 s verification): 30 s, which costs at most
            // 20 s more idling, and usually none (the tests before this one idle the server long enough).
            const WIND_DOWN_SECONDS = 30;
            const heartbeatStart = Date.now();
            let beating = true;
            let beats = 0;
            let heartbeatError: Error | undefined;
            // The heartbeat (the stack's SQL, model/contract.ts HEARTBEAT) runs all along, as in production.
            const heartbeat = (async () => {
                while (beating) {
                    await pg!.query(HEARTBEAT.sql);
                    beats++;
                    await sleep(HEARTBEAT_SECONDS * 1000);
                }
            })().catch((err: Error) => {
                heartbeatError = err;
            });
            try {
                // One upload, measured: close the segment holding the first heartbeat and time its archiving.
                await waitFor("the first heartbeat", async () => beats > 0, 60000, 100);
                const switchedAt = Date.now();
                const [{ segment }] = await pg!.query<{ segment: string }>("SELECT pg_walfile_name(pg_switch_wal()) AS segment");
                await waitArchived(pg!, segment, "the first heartbeat's segment", 180000);
                const uploadSeconds = (Date.now() - switchedAt) / 1000;
                // archive_timeout four times one upload, so the verification's replay (one
                // barman-cloud-wal-restore per segment, about as costly as an upload: 5 s upload, 8 s restore
                // seen under load) outruns the segment switches of a server that goes on beating and ends;
                // the allowance three uploads plus the wind-down (with two, a run at load 18 passed by 3 s).
                const archiveTimeoutSeconds = Math.max(10, Math.ceil(4 * uploadSeconds));
                const uploadAllowanceSeconds = Math.ceil(3 * uploadSeconds) + WIND_DOWN_SECONDS;
                const rpoSeconds = pointInTimeRestoreBoundSeconds(archiveTimeoutSeconds, uploadAllowanceSeconds) + HEARTBEAT_SECONDS;
                await pg!.query(`ALTER SYSTEM SET archive_timeout = ${archiveTimeoutSeconds}`);
                await pg!.query("SELECT pg_reload_conf()");

                // Idle: no application commit since lastCommit (the tests before this one only restored). The
                // age the script checks is taken when it ends, so a last app commit older than the RPO when
                // the verification starts is older still when it ends: only a heartbeat can pass the check.
                const moreIdleMs = lastCommit + (rpoSeconds + 1) * 1000 - Date.now();
                if (moreIdleMs > 0) {
                    await sleep(moreIdleMs);
                }
                const r = await jobs!.run("verify-physical.sh", verifyEnv({ RPO_SECONDS: String(rpoSeconds), VERIFY_TIMEOUT_SECONDS: "600" }), { timeoutMs: 720000 });
                const lastAppCommitAge = (Date.now() - lastCommit) / 1000;
                const settings =
                    `one upload took ${uploadSeconds.toFixed(1)} s: archive_timeout ${archiveTimeoutSeconds}s, upload allowance ${uploadAllowanceSeconds}s, ` +
                    `heartbeat every ${HEARTBEAT_SECONDS}s, RPO ${rpoSeconds}s; idled ${Math.max(0, moreIdleMs)} ms more for it`;
                console.log(`      ${settings}; verification took ${r.durationMs} ms`);
                assert.equal(
                    r.code,
                    0,
                    `${settings}. The recovery point should be within the RPO when the verification ends; if the reason below is ` +
                        `its age, an upload or the script's wind-down took longer than allowed. ${r.stderrLines.join(" ")}`,
                );
                assertSucceeded(r);
                const result = JSON.parse((await getObject(moto!.s3(), bucket, `verification/${server}/physical-latest.json`)).toString());
                console.log(`      recovered to ${result.recovery_point_time}, ${result.recovery_point_age_seconds}s old; last app commit ${lastAppCommitAge}s old; ${beats} heartbeats`);
                assert.ok(lastAppCommitAge > rpoSeconds, `the last application commit is ${lastAppCommitAge}s old, beyond the RPO`);
                assert.ok(Date.parse(result.recovery_point_time) >= heartbeatStart, `recovered to a heartbeat (${result.recovery_point_time}), not to the last app commit`);
                assert.ok(result.recovery_point_age_seconds <= rpoSeconds);
                assert.equal(heartbeatError, undefined, `the heartbeat failed: ${heartbeatError?.message}`);
            } finally {
                beating = false;
                await heartbeat;
                await pg!.query("ALTER SYSTEM RESET archive_timeout");
                await pg!.query("SELECT pg_reload_conf()");
            }
        });

        it("detects a segment missing from the archive (a gap), which PostgreSQL itself silently promotes past", async function () {
            const wals = (await listKeys(moto!.s3(), bucket, `barman/${server}/wals/`))
                .map((k) => /\/([0-9A-F]{24})\.gz$/.exec(k)?.[1])
                .filter((n): n is string => n !== undefined);
            const backups = await listKeys(moto!.s3(), bucket, `barman/${server}/base/`);
            assert.equal(backups.filter((k) => k.endsWith("backup.info")).length, 1);
            // The first segment after the base backup's end, before the newest: replay needs it to go on, and
            // stops there at once (replaying the rest would cost one barman-cloud-wal-restore per segment).
            const info = (await getObject(moto!.s3(), bucket, backups.find((k) => k.endsWith("backup.info"))!)).toString();
            const endWal = /^end_wal=([0-9A-F]{24})$/m.exec(info)?.[1];
            assert.ok(endWal, `backup.info names its end_wal:\n${info}`);
            const after = wals.filter((w) => w > endWal);
            assert.ok(after.length >= 2, `archived segments after the backup's end ${endWal}: ${after.join(", ")}`);
            const victim = after[0];
            await moto!.s3().send(new DeleteObjectCommand({ Bucket: bucket, Key: `barman/${server}/wals/${victim.slice(0, 16)}/${victim}.gz` }));

            const r = await jobs!.run("verify-physical.sh", verifyEnv({ RPO_SECONDS: "300" }));
            const reason = assertFailedWith(r, new RegExp(`^gap in WAL archive: segment ${victim} missing \\(replay stopped at [0-9A-F]+/[0-9A-F]+\\)$`));
            const result = JSON.parse((await getObject(moto!.s3(), bucket, `verification/${server}/physical-latest.json`)).toString());
            assert.equal(result.success, false);
            assert.equal(result.reason, reason);
            assert.equal(result.missing_segment, victim);
        });
    });
});
