// WAL archiving through an S3 endpoint outage: barman-cloud-wal-archive fails and retries while
// PostgreSQL keeps committing and keeps the WAL; every segment arrives once the endpoint is back, and
// scripts/verify-physical.sh restores all of it. Its own file (helpers in physical.ts) so that
// `mocha --parallel` runs it beside physicalBackup.test.ts.

import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { MotoServer } from "../../local/motoServer";
import { LocalPostgres } from "../../local/postgres";
import { waitFor } from "../../local/processes";
import { TcpProxy } from "../../local/tcpProxy";
import { assertSucceeded, getObject, JobSandbox, listKeys, requireJobTools, teardownForSuite } from "./harness";
import { ARCHIVE_TIMEOUT_SECONDS, archiveCommand, baseBackup, commitFor, switchAndWaitArchived } from "./physical";
import { archiverStats } from "../../drill/scenarios/scenario";
import { outageArchiving } from "../../drill/scenarios/storageOutage";
import { archivedFileName } from "../../drill/topology";

describe("physical backups: WAL archiving through an S3 endpoint outage", function () {
    this.timeout(900000);

    let moto: MotoServer | undefined;
    let jobs: JobSandbox | undefined;

    const teardown = teardownForSuite("physical backup outage tests");

    before(async function () {
        requireJobTools();
        const m = (moto = await MotoServer.start());
        teardown.add("stop moto_server", () => m.stop());
        const j = (jobs = JobSandbox.create("physical-outage"));
        teardown.add("remove the job sandbox", () => j.cleanup());
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
            proxy!.cut();
            const outageStarted = Date.now();
            // Listed after the cut, which resets every open and every new connection: no upload can end until
            // the proxy is restored. One that ended just before the cut may still be counted by PostgreSQL after
            // it, when its command exits; the drill's storage-outage check allows the same and says why
            // (drill/scenarios/storageOutage.ts, outageArchiving).
            const keysAtCut = await listKeys(moto!.s3(), bucket, `barman/${server}/wals/`);
            const heldAtCut = keysAtCut.map((k) => archivedFileName(k)).filter((n): n is string => n !== undefined);
            const committedDuringOutage = await commitFor(pg!, "ledger", 12000, 100, 3000);
            // Failed, then failed again on retry: the archiver keeps trying while the endpoint is down.
            await waitFor(
                "repeated failed archive attempts",
                async () => (await archiverStats(pg!)).failed >= before.failed + 2,
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
            const outage = outageArchiving(before, heldAtCut, during, proxy!.refusedWhileCut);
            assert.ok(outage.ok, `nothing was archived during the outage but an upload that ended before the cut: ${outage.detail}`);
            assert.deepEqual(await listKeys(moto!.s3(), bucket, `barman/${server}/wals/`), keysAtCut, "nothing reached the bucket during the outage");
            console.log(
                `      outage ${Date.now() - outageStarted} ms: ${committedDuringOutage} commits, ` +
                    `${during.failed - before.failed} failed archive attempts, ${waiting.length} segments waiting, ` +
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
