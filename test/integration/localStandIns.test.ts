// The local stand-ins (local/) that these tests and the DR drill build on: they start, stop in
// every mode, keep their state where they promise to, and leave nothing behind.

import { GetObjectCommand, ListBucketsCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { MotoServer } from "../../local/motoServer";
import { LocalPostgres } from "../../local/postgres";
import { TcpProxy } from "../../local/tcpProxy";
import { teardownForSuite } from "./harness";

function alive(pid: number): boolean {
    try {
        return !fs.readFileSync(`/proc/${pid}/stat`, "utf8").includes(") Z ");
    } catch {
        return false;
    }
}

/** The group's SIGKILL is delivered at once, but the kernel may reap a member a moment later. */
async function goneWithin(pid: number, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (alive(pid) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
    }
    return !alive(pid);
}

describe("local stand-ins", function () {
    this.timeout(180000);

    describe("LocalPostgres", function () {
        let pg: LocalPostgres | undefined;

        after(async function () {
            await pg?.cleanup();
        });

        it("applies settings and environment, survives SIGKILL and immediate stops with committed data, and cleans up", async function () {
            pg = await LocalPostgres.start({ name: "standin", settings: { work_mem: "8MB" }, env: { DRSTACK_PROBE: "probe-value" } });
            const [{ work_mem }] = await pg.query<{ work_mem: string }>("SHOW work_mem");
            assert.equal(work_mem, "8MB");
            // The server's own environment is what archive_command/restore_command would see.
            const probe = path.join(pg.baseDir, "probe.txt");
            // The program reads its stdin first: exiting before PostgreSQL has written it is a broken pipe.
            await pg.query(`COPY (SELECT 1) TO PROGRAM 'cat >/dev/null; printf %s "$DRSTACK_PROBE" > ${probe}'`);
            assert.equal(fs.readFileSync(probe, "utf8"), "probe-value");
            await pg.query("CREATE TABLE t (v int); INSERT INTO t VALUES (1), (2), (3)");

            const client = await pg.connect();
            const [{ pid: backend }] = (await client.query("SELECT pg_backend_pid() AS pid")).rows;
            client.on("error", () => undefined);
            await pg.stop("kill");
            assert.equal(pg.running, false);
            assert.equal(await goneWithin(backend, 5000), true, "the backend went with the postmaster (process group)");
            await client.end().catch(() => undefined);

            await pg.restart(); // crash recovery
            assert.deepEqual(await pg.query("SELECT count(*)::int AS n FROM t"), [{ n: 3 }]);
            await pg.stop("immediate");
            await pg.restart();
            assert.deepEqual(await pg.query("SELECT count(*)::int AS n FROM t"), [{ n: 3 }]);
            await pg.stop("fast");
            assert.match(pg.logTail(5), /database system is shut down/);

            const dir = pg.baseDir;
            await pg.cleanup();
            assert.equal(fs.existsSync(dir), false, "the temp dir is removed");
            pg = undefined;
        });
    });

    describe("MotoServer behind a TcpProxy", function () {
        let moto: MotoServer | undefined;
        let proxy: TcpProxy | undefined;
        let viaProxy: S3Client | undefined;
        const teardown = teardownForSuite("moto behind a proxy");

        before(async function () {
            const m = (moto = await MotoServer.start());
            teardown.add("stop moto_server", () => m.stop());
            const p = (proxy = await TcpProxy.start(moto.port));
            teardown.add("stop the proxy", () => p.stop());
            viaProxy = new S3Client({
                endpoint: proxy.endpoint,
                region: moto.region,
                forcePathStyle: true,
                credentials: MotoServer.credentials,
                maxAttempts: 1,
            });
        });

        after(async function () {
            viaProxy?.destroy();
        });

        it("an outage (cut) fails requests without losing the emulator's data; restore brings everything back", async function () {
            await moto!.createBucket("standin-bucket");
            const keyId = await moto!.createKmsKey("alias/standin");
            assert.match(keyId, /^[0-9a-f-]{36}$/);
            await viaProxy!.send(new PutObjectCommand({ Bucket: "standin-bucket", Key: "k", Body: "v" }));

            proxy!.cut();
            await assert.rejects(viaProxy!.send(new ListBucketsCommand({})));
            assert.ok(proxy!.refusedWhileCut >= 1);
            // The emulator itself is untouched.
            const direct = await moto!.s3().send(new GetObjectCommand({ Bucket: "standin-bucket", Key: "k" }));
            assert.equal(await direct.Body!.transformToString(), "v");

            proxy!.restore();
            const again = await viaProxy!.send(new GetObjectCommand({ Bucket: "standin-bucket", Key: "k" }));
            assert.equal(await again.Body!.transformToString(), "v");
        });
    });
});
