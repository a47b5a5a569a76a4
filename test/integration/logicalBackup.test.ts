// scripts/logical-backup.sh and scripts/verify-logical.sh against a real PostgreSQL and the S3
// emulator, run as their CronJobs run them.

import { HeadObjectCommand, PutBucketEncryptionCommand } from "@aws-sdk/client-s3";
import { strict as assert } from "assert";
import { createHash } from "crypto";
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
    processesMentioning,
    putObject,
    requireJobTools,
    teardownForSuite,
} from "./harness";

const BUCKET = "drstack-logical-test";
const CLUSTER = "pg-test-use1";
const PREFIX = `logical/${CLUSTER}/`; // the scripts' default S3_PREFIX

interface TableCount {
    schema: string;
    table: string;
    rows: number;
}

interface ManifestEntry {
    name: string;
    file: string;
    size_bytes: number;
    sha256: string;
    consistent_at: string;
    consistent_at_lsn: string;
    server_version: string;
    server_version_num: number;
    tables: TableCount[];
}

interface Manifest {
    format: string;
    cluster: string;
    date: string;
    created_at: string;
    server_version: string;
    databases: ManifestEntry[];
}

function sha256(data: Buffer): string {
    return createHash("sha256").update(data).digest("hex");
}

function today(): string {
    return new Date().toISOString().slice(0, 10);
}

describe("logical backup and its restore verification (PostgreSQL + S3 emulator)", function () {
    this.timeout(600000);

    let moto: MotoServer | undefined;
    let pg: LocalPostgres | undefined;
    let jobs: JobSandbox | undefined;
    let gateway: FakePushgateway | undefined;
    let kmsKeyId = "";
    /** The bucket's default SSE-KMS key, as the stack configures it (a different key from kmsKeyId). */
    let bucketKeyId = "";
    let day = "";

    /** What every job of this cluster gets (S3 + identity). */
    function s3Env(): Record<string, string> {
        return {
            ...moto!.awsEnv(),
            S3_ENDPOINT_URL: moto!.endpoint,
            S3_BUCKET: BUCKET,
            S3_SSE_KMS_KEY_ID: kmsKeyId,
            CLUSTER_NAME: CLUSTER,
        };
    }

    function backupEnv(extra: Record<string, string> = {}): Record<string, string> {
        const { PGHOST, PGPORT, PGUSER, PGPASSWORD } = pg!.connectionEnv();
        return {
            ...s3Env(),
            PGHOST,
            PGPORT,
            PGUSER,
            PGPASSWORD,
            BACKUP_DATABASES: "orders inventory",
            METRICS_FILE: jobs!.path("logical-backup.prom"),
            PUSHGATEWAY_URL: gateway!.url,
            ...extra,
        };
    }

    function verifyEnv(extra: Record<string, string> = {}): Record<string, string> {
        return {
            ...s3Env(),
            METRICS_FILE: jobs!.path("verify-logical.prom"),
            PUSHGATEWAY_URL: gateway!.url,
            ...extra,
        };
    }

    /** Exact row counts of every ordinary table, read from the live database. */
    async function liveCounts(database: string): Promise<TableCount[]> {
        const tables = await pg!.query<{ schema: string; table: string }>(
            `SELECT n.nspname AS schema, c.relname AS table FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE c.relkind = 'r' AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'
              ORDER BY 1, 2`,
            [],
            database,
        );
        const counts: TableCount[] = [];
        for (const t of tables) {
            const ident = `"${t.schema.replace(/"/g, '""')}"."${t.table.replace(/"/g, '""')}"`;
            const [row] = await pg!.query<{ n: string }>(`SELECT count(*) AS n FROM ${ident}`, [], database);
            counts.push({ schema: t.schema, table: t.table, rows: Number(row.n) });
        }
        return counts;
    }

    async function readManifest(prefix = PREFIX): Promise<Manifest> {
        return JSON.parse((await getObject(moto!.s3(), BUCKET, `${prefix}${day}/manifest.json`)).toString("utf8"));
    }

    /** Copies today's good backup to cases/<name>/ with `tamper` applied; returns the S3_PREFIX. */
    async function tamperedCopy(name: string, tamper: (objects: Map<string, Buffer>) => void): Promise<string> {
        const objects = new Map<string, Buffer>();
        for (const key of await listKeys(moto!.s3(), BUCKET, `${PREFIX}${day}/`)) {
            objects.set(key.slice(`${PREFIX}${day}/`.length), await getObject(moto!.s3(), BUCKET, key));
        }
        tamper(objects);
        const prefix = `cases/${name}/`;
        for (const [file, body] of objects) {
            await putObject(moto!.s3(), BUCKET, `${prefix}${day}/${file}`, body);
        }
        return prefix;
    }

    const teardown = teardownForSuite("logical backup tests");

    before(async function () {
        requireJobTools();
        const m = (moto = await MotoServer.start());
        teardown.add("stop moto_server", () => m.stop());
        await m.createBucket(BUCKET, { versioning: true });
        kmsKeyId = await m.createKmsKey("alias/drstack-test-backups");
        bucketKeyId = await m.createKmsKey("alias/drstack-test-bucket-default");
        await m.s3().send(
            new PutBucketEncryptionCommand({
                Bucket: BUCKET,
                ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: "aws:kms", KMSMasterKeyID: bucketKeyId } }] },
            }),
        );
        const g = (gateway = await FakePushgateway.start());
        teardown.add("stop the pushgateway", () => g.stop());
        const j = (jobs = JobSandbox.create("logical"));
        teardown.add("remove the job sandbox", () => j.cleanup());
        pg = await LocalPostgres.start({ name: "logical" });
        const server = pg;
        teardown.add("remove PostgreSQL", () => server.cleanup());
        await pg.query("CREATE DATABASE orders");
        await pg.query("CREATE DATABASE inventory");
        await pg.query(
            `CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL);
             INSERT INTO customers SELECT g, 'customer ' || g FROM generate_series(1, 50) g;
             CREATE TABLE orders (id serial PRIMARY KEY, customer_id int NOT NULL REFERENCES customers, total numeric(10,2));
             CREATE INDEX ON orders (customer_id);
             INSERT INTO orders (customer_id, total) SELECT 1 + g % 50, g * 1.5 FROM generate_series(1, 200) g;
             CREATE TABLE events (id int, at date NOT NULL) PARTITION BY RANGE (at);
             CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
             CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
             INSERT INTO events SELECT g, date '2025-06-01' + g * 20 FROM generate_series(1, 20) g;
             CREATE SCHEMA "Odd Schema";
             CREATE TABLE "Odd Schema"."line|items ""x""" (v text);
             INSERT INTO "Odd Schema"."line|items ""x""" VALUES ('a'), ('b'), ('c');
             CREATE TABLE order_events (id bigserial PRIMARY KEY, at timestamptz DEFAULT clock_timestamp());`,
            [],
            "orders",
        );
        await pg.query(
            `CREATE TABLE stock (sku text PRIMARY KEY, qty int NOT NULL);
             INSERT INTO stock SELECT 'sku-' || g, g FROM generate_series(1, 30) g;
             CREATE VIEW low_stock AS SELECT * FROM stock WHERE qty < 5;`,
            [],
            "inventory",
        );
        day = today();
    });


    it("dumps every database with a manifest that matches the data, written while writes continue", async function () {
        // A writer commits into orders.order_events during the whole backup: the manifest's counts
        // must still describe exactly what is in the dump (checked by the restore below).
        let writing = true;
        const writer = (async () => {
            const client = await pg!.connect("orders");
            try {
                while (writing) {
                    await client.query("INSERT INTO order_events DEFAULT VALUES");
                    await sleep(10);
                }
            } finally {
                await client.end();
            }
        })();
        const started = nowSeconds();
        let r;
        try {
            r = await jobs!.run("logical-backup.sh", backupEnv());
        } finally {
            writing = false;
            await writer;
        }
        assertSucceeded(r);
        console.log(`      logical backup took ${r.durationMs} ms`);

        const keys = await listKeys(moto!.s3(), BUCKET, PREFIX);
        assert.deepEqual(keys, [`${PREFIX}${day}/inventory.dump`, `${PREFIX}${day}/manifest.json`, `${PREFIX}${day}/orders.dump`]);
        const manifest = await readManifest();
        assert.equal(manifest.format, "drstack-logical-backup/1");
        assert.equal(manifest.cluster, CLUSTER);
        assert.equal(manifest.date, day);
        assert.deepEqual(manifest.databases.map((d) => d.name), ["orders", "inventory"]);
        const [{ v: versionNum }] = await pg!.query<{ v: string }>("SELECT current_setting('server_version_num') AS v");

        let total = 0;
        for (const entry of manifest.databases) {
            const dump = await getObject(moto!.s3(), BUCKET, `${PREFIX}${day}/${entry.file}`);
            assert.equal(entry.file, `${entry.name}.dump`);
            assert.equal(dump.length, entry.size_bytes, `size of ${entry.file}`);
            assert.equal(sha256(dump), entry.sha256, `sha256 of ${entry.file}`);
            assert.equal(dump.subarray(0, 5).toString("latin1"), "PGDMP", `${entry.file} is a pg_dump custom-format archive`);
            total += dump.length;
            assert.equal(entry.server_version_num, Number(versionNum));
            assert.match(entry.consistent_at_lsn, /^[0-9A-F]+\/[0-9A-F]+$/);
            const at = Date.parse(entry.consistent_at);
            assert.ok(at >= (started - 1) * 1000 && at <= Date.now(), `consistent_at ${entry.consistent_at} lies within the run`);

            // Every table, schema-qualified, with exact counts; the concurrently written table
            // is checked by the restore (verification) instead.
            const live = await liveCounts(entry.name);
            const stable = (t: TableCount) => !(entry.name === "orders" && t.table === "order_events");
            assert.deepEqual(entry.tables.filter(stable), live.filter(stable), `row counts of ${entry.name}`);
            if (entry.name === "orders") {
                const inDump = entry.tables.find((t) => t.table === "order_events")!;
                const after = live.find((t) => t.table === "order_events")!;
                assert.ok(inDump.rows > 0 && inDump.rows < after.rows, `order_events: ${inDump.rows} in the dump, ${after.rows} now`);
                assert.ok(entry.tables.some((t) => t.schema === "Odd Schema" && t.table === 'line|items "x"' && t.rows === 3));
                assert.ok(entry.tables.some((t) => t.table === "events_2025" && t.rows === 10));
            }
            const head = await moto!.s3().send(new HeadObjectCommand({ Bucket: BUCKET, Key: `${PREFIX}${day}/${entry.file}` }));
            assert.equal(head.ServerSideEncryption, "aws:kms");
            assert.ok(head.SSEKMSKeyId?.includes(kmsKeyId), `dump encrypted with the given key, got ${head.SSEKMSKeyId}`);
        }

        const metrics = parseMetrics(jobs!.readFile("logical-backup.prom"));
        const successAt = metricValue(metrics, "drstack_logical_backup_last_success_timestamp_seconds")!;
        assert.ok(successAt >= started && successAt <= nowSeconds());
        assert.equal(metricValue(metrics, "drstack_logical_backup_size_bytes"), total);
        assert.ok(metrics.every((s) => s.labels.cluster === CLUSTER));
        const pushes = gateway!.pushesTo(`/metrics/job/drstack-logical-backup/cluster/${CLUSTER}`);
        assert.equal(pushes.length, 1);
        assert.equal(pushes[0].method, "POST");
        assert.match(pushes[0].body, new RegExp(`drstack_logical_backup_size_bytes\\{cluster="${CLUSTER}"\\} ${total}\\n`));
    });

    it("is idempotent: a second run of the same day leaves the complete backup alone", async function () {
        const before = await moto!.s3().send(new HeadObjectCommand({ Bucket: BUCKET, Key: `${PREFIX}${day}/manifest.json` }));
        const dumpBefore = await moto!.s3().send(new HeadObjectCommand({ Bucket: BUCKET, Key: `${PREFIX}${day}/orders.dump` }));
        const r = await jobs!.run("logical-backup.sh", backupEnv());
        assertSucceeded(r);
        assert.match(r.stdout, /already complete/);
        const after = await moto!.s3().send(new HeadObjectCommand({ Bucket: BUCKET, Key: `${PREFIX}${day}/manifest.json` }));
        const dumpAfter = await moto!.s3().send(new HeadObjectCommand({ Bucket: BUCKET, Key: `${PREFIX}${day}/orders.dump` }));
        assert.equal(after.VersionId, before.VersionId, "the manifest was not rewritten");
        assert.equal(dumpAfter.VersionId, dumpBefore.VersionId, "the dump was not rewritten");
        // Metrics are published again from the existing manifest (repairs a failed publish).
        assert.equal(gateway!.pushesTo(`/metrics/job/drstack-logical-backup/cluster/${CLUSTER}`).length, 2);
    });

    it("without S3_SSE_KMS_KEY_ID, uploads send no encryption header and land under the bucket's default key", async function () {
        // moto_server applies the bucket default encryption to a PUT without headers, as S3 does, and
        // records the key (head-object SSEKMSKeyId). It also applies it to `aws:kms` with no key id,
        // where S3 would use aws/s3: that case is covered by the bucket policy tests, not here.
        const prefix = "bucket-default-key/";
        const r = await jobs!.run("logical-backup.sh", backupEnv({ S3_PREFIX: prefix, BACKUP_DATABASES: "inventory", S3_SSE_KMS_KEY_ID: "" }));
        assertSucceeded(r);
        for (const file of ["inventory.dump", "manifest.json"]) {
            const head = await moto!.s3().send(new HeadObjectCommand({ Bucket: BUCKET, Key: `${prefix}${day}/${file}` }));
            assert.equal(head.ServerSideEncryption, "aws:kms", file);
            assert.ok(head.SSEKMSKeyId?.includes(bucketKeyId), `${file} under the bucket default key ${bucketKeyId}, got ${head.SSEKMSKeyId}`);
        }
    });

    it("overwrites the dumps of a crashed run (no manifest) instead of skipping the day", async function () {
        const prefix = "crashed/";
        await putObject(moto!.s3(), BUCKET, `${prefix}${day}/orders.dump`, "half a dump from a crashed run");
        const r = await jobs!.run("logical-backup.sh", backupEnv({ S3_PREFIX: prefix, BACKUP_DATABASES: "orders" }));
        assertSucceeded(r);
        const manifest = await readManifest(prefix);
        const dump = await getObject(moto!.s3(), BUCKET, `${prefix}${day}/orders.dump`);
        assert.equal(sha256(dump), manifest.databases[0].sha256);
        assert.ok(dump.length > 1000);
    });

    it("verification restores the newest backup, checks it and publishes success", async function () {
        const sql = jobs!.writeFile(
            "checks.sql",
            `-- one row per check: first column true = pass
             SELECT count(*) = 200, 'orders has ' || count(*) || ' rows' FROM public.orders;
             SELECT NOT EXISTS (SELECT 1 FROM orders o LEFT JOIN customers c ON c.id = o.customer_id WHERE c.id IS NULL), 'orphan orders';\n`,
        );
        const started = nowSeconds();
        const r = await jobs!.run("verify-logical.sh", verifyEnv({ VERIFY_SQL_FILE: sql }));
        assertSucceeded(r);
        console.log(`      logical restore verification took ${r.durationMs} ms`);
        assert.match(r.stdout, /every row count matches the manifest/);

        const metrics = parseMetrics(jobs!.readFile("verify-logical.prom"));
        assert.ok(metrics.every((s) => s.labels.kind === "logical" && s.labels.cluster === CLUSTER));
        assert.equal(metricValue(metrics, "drstack_restore_verification_success"), 1);
        const lastRun = metricValue(metrics, "drstack_restore_verification_last_run_timestamp_seconds")!;
        assert.ok(lastRun >= started && lastRun <= nowSeconds());
        assert.equal(metricValue(metrics, "drstack_restore_verification_last_success_timestamp_seconds"), lastRun);
        assert.ok(metricValue(metrics, "drstack_restore_verification_duration_seconds")! >= 0);
        assert.equal(metricValue(metrics, "drstack_restore_verification_recovery_point_age_seconds"), undefined);

        const pushes = gateway!.pushesTo(`/metrics/job/drstack-restore-verification/kind/logical/cluster/${CLUSTER}`);
        assert.equal(pushes.length, 1);
        assert.equal(pushes[0].method, "POST");
        assert.match(pushes[0].body, /drstack_restore_verification_success\{kind="logical",cluster="pg-test-use1"\} 1\n/);

        const result = JSON.parse((await getObject(moto!.s3(), BUCKET, `verification/${CLUSTER}/logical-latest.json`)).toString());
        assert.equal(result.success, true);
        assert.equal(result.reason, null);
        assert.equal(result.kind, "logical");
        assert.equal(result.manifest, `s3://${BUCKET}/${PREFIX}${day}/manifest.json`);
        assert.equal(result.tables_checked, (await readManifest()).databases.reduce((n, d) => n + d.tables.length, 0));
    });

    describe("verification fails, naming the cause, and publishes the failure", function () {
        let lastSuccess = 0;

        before(function () {
            const metrics = parseMetrics(jobs!.readFile("verify-logical.prom"));
            lastSuccess = metricValue(metrics, "drstack_restore_verification_last_success_timestamp_seconds")!;
            assert.ok(lastSuccess > 0, "runs after the successful verification");
        });

        async function assertPublishedFailure(reason: string): Promise<void> {
            const metrics = parseMetrics(jobs!.readFile("verify-logical.prom"));
            assert.equal(metricValue(metrics, "drstack_restore_verification_success"), 0);
            // The earlier success stays visible, so "no success for N hours" alerts keep counting.
            assert.equal(metricValue(metrics, "drstack_restore_verification_last_success_timestamp_seconds"), lastSuccess);
            const result = JSON.parse((await getObject(moto!.s3(), BUCKET, `verification/${CLUSTER}/logical-latest.json`)).toString());
            assert.equal(result.success, false);
            assert.equal(result.reason, reason);
        }

        it("a truncated dump", async function () {
            const prefix = await tamperedCopy("truncated", (o) => o.set("orders.dump", o.get("orders.dump")!.subarray(0, 1000)));
            const size = (await readManifest()).databases[0].size_bytes;
            const r = await jobs!.run("verify-logical.sh", verifyEnv({ S3_PREFIX: prefix }));
            const reason = assertFailedWith(r, new RegExp(`^size mismatch for orders\\.dump: manifest ${size} bytes != downloaded 1000 bytes$`));
            await assertPublishedFailure(reason);
        });

        it("a dump with one flipped byte (same size)", async function () {
            let flipped = "";
            const prefix = await tamperedCopy("flipped", (o) => {
                const dump = Buffer.from(o.get("orders.dump")!);
                dump[Math.floor(dump.length / 2)] ^= 0xff;
                flipped = sha256(dump);
                o.set("orders.dump", dump);
            });
            const want = (await readManifest()).databases[0].sha256;
            const r = await jobs!.run("verify-logical.sh", verifyEnv({ S3_PREFIX: prefix }));
            const reason = assertFailedWith(r, new RegExp(`^checksum mismatch for orders\\.dump: manifest sha256 ${want} != downloaded ${flipped}$`));
            await assertPublishedFailure(reason);
        });

        it("a manifest whose row counts disagree with the data", async function () {
            const prefix = await tamperedCopy("counts", (o) => {
                const manifest: Manifest = JSON.parse(o.get("manifest.json")!.toString());
                manifest.databases[0].tables.find((t) => t.schema === "public" && t.table === "orders")!.rows += 1;
                o.set("manifest.json", Buffer.from(JSON.stringify(manifest)));
            });
            const r = await jobs!.run("verify-logical.sh", verifyEnv({ S3_PREFIX: prefix }));
            const reason = assertFailedWith(
                r,
                /^row count mismatch for orders\.dump: table public\.orders has 201 rows in the manifest but 200 after restore$/,
            );
            await assertPublishedFailure(reason);
        });

        it("no backup at all (only the dump of a run that never wrote its manifest)", async function () {
            await putObject(moto!.s3(), BUCKET, `cases/empty/${day}/orders.dump`, "orphan");
            const r = await jobs!.run("verify-logical.sh", verifyEnv({ S3_PREFIX: "cases/empty/" }));
            const reason = assertFailedWith(r, new RegExp(`^no backup found: no manifest under s3://${BUCKET}/cases/empty/$`));
            await assertPublishedFailure(reason);
        });

        it("an application check in VERIFY_SQL_FILE returning false, or failing", async function () {
            const falseCheck = jobs!.writeFile("false.sql", "SELECT count(*) = 999, 'orders has ' || count(*) || ' rows, expected 999' FROM orders;\n");
            let r = await jobs!.run("verify-logical.sh", verifyEnv({ VERIFY_SQL_FILE: falseCheck }));
            assertFailedWith(r, /^VERIFY_SQL_FILE check failed in database orders: f orders has 200 rows, expected 999$/);

            const broken = jobs!.writeFile("broken.sql", "SELECT count(*) > 0 FROM no_such_table;\n");
            r = await jobs!.run("verify-logical.sh", verifyEnv({ VERIFY_SQL_FILE: broken, VERIFY_SQL_DATABASE: "inventory" }));
            const reason = assertFailedWith(r, /^VERIFY_SQL_FILE failed in database inventory: .*relation "no_such_table" does not exist/);
            await assertPublishedFailure(reason);
        });

        it("a SIGTERM (the Job's deadline): the scratch server is stopped, its files removed, the failure published", async function () {
            const slow = jobs!.writeFile("slow.sql", "SELECT true FROM pg_sleep(300);\n");
            let pid = 0;
            const running = jobs!.run("verify-logical.sh", verifyEnv({ VERIFY_SQL_FILE: slow }), { onSpawn: (p) => (pid = p) });
            await waitFor("the slow check to run on the scratch server", () => processesMentioning(slow).length > 0, 120000, 200);
            process.kill(pid, "SIGTERM"); // what the kubelet sends the container's main process
            const r = await running; // JobSandbox.run asserts that nothing is left running or on disk
            assert.equal(r.code, 143);
            assert.ok(r.durationMs < 120000, "the job did not wait for the check to finish");
            const reason = assertFailedWith(r, /^terminated by SIGTERM while running VERIFY_SQL_FILE in database orders$/);
            await assertPublishedFailure(reason);
        });
    });

    describe("the backup fails with one clear line", function () {
        it("names a database that does not exist", async function () {
            const r = await jobs!.run("logical-backup.sh", backupEnv({ S3_PREFIX: "missing-db/", BACKUP_DATABASES: "nosuchdb" }));
            assertFailedWith(r, /^cannot open a snapshot in database nosuchdb: .*database "nosuchdb" does not exist/);
            assert.deepEqual(await listKeys(moto!.s3(), BUCKET, "missing-db/"), [], "nothing is uploaded");
        });

        it("names a missing required setting", async function () {
            const env = backupEnv();
            delete env.S3_BUCKET;
            const r = await jobs!.run("logical-backup.sh", env);
            assertFailedWith(r, /^S3_BUCKET is required \(see scripts\/README\.md\)$/);
        });
    });
});
