// scripts/fence-check.sh run as its CronJob runs it: S3 is the real moto_server; the Kubernetes
// API is a STAND-IN (local/kubeApiStandIn.ts), not a real API server: it serves GET of one CloudNativePG Cluster,
// applies JSON merge patches (RFC 7386) to it and records every request. The marker is written
// with model/fence.ts, exactly as the promoted stack writes it, where replication delivers it.

import { DeleteObjectCommand } from "@aws-sdk/client-s3";
import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { FENCE_CHECK, fenceCheckEnv, FenceCheckRole, fenceMarkerBody, fenceMarkerKey, CNPG_FENCING } from "../../model/fence";
import { KubeApiStandIn } from "../../local/kubeApiStandIn";
import { MotoServer } from "../../local/motoServer";
import { freePort, LOOPBACK } from "../../local/ports";
import { FakePushgateway } from "../../local/pushgateway";
import {
    assertFailedWith,
    assertSucceeded,
    teardownForSuite,
    JobResult,
    JobSandbox,
    metricValue,
    parseMetrics,
    putObject,
    requireJobTools,
    Sample,
} from "./harness";

const BUCKET = "backups-test-us-east-1"; // the old primary's own bucket
const CLUSTER = "pg-test-use1"; // the old primary
const PEER = "pg-test-usw2"; // promoted by emergency failover
const NAMESPACE = "drstack";
const TOKEN = "stand-in-service-account-token";
const CLUSTER_PATH = `/apis/${CNPG_FENCING.apiGroup}/${CNPG_FENCING.apiVersion}/namespaces/${NAMESPACE}/${CNPG_FENCING.resource}/${CLUSTER}`;
const API = { namespace: NAMESPACE, cluster: CLUSTER, token: TOKEN, spec: { instances: 2, replica: { self: CLUSTER, primary: CLUSTER, source: PEER } } };
const M = FENCE_CHECK.metrics;

describe("fence check: the old primary fences itself (S3 emulator + Kubernetes API stand-in)", function () {
    this.timeout(300000);

    let moto: MotoServer | undefined;
    let api: KubeApiStandIn | undefined;
    let gateway: FakePushgateway | undefined;
    let jobs: JobSandbox | undefined;
    let tokenFile = "";

    function env(role: FenceCheckRole, promotionGeneration: number, extra: Record<string, string> = {}): Record<string, string> {
        return {
            ...fenceCheckEnv({ cluster: CLUSTER, peerCluster: PEER, role, promotionGeneration, bucket: BUCKET }),
            ...moto!.awsEnv(),
            S3_ENDPOINT_URL: moto!.endpoint,
            KUBE_API_URL: api!.url,
            KUBE_TOKEN_FILE: tokenFile,
            KUBE_NAMESPACE: NAMESPACE,
            METRICS_FILE: jobs!.path("fence-check.prom"),
            ...extra,
        };
    }

    const PROMOTED_AT = "2026-11-24T11:00:00Z";

    /** The marker the promoted peer wrote, as S3 replication delivers it into this region's bucket. */
    async function deliverMarker(generation: number, overrides: Record<string, unknown> = {}): Promise<void> {
        const body = fenceMarkerBody({
            promotedCluster: PEER,
            fencedCluster: CLUSTER,
            generation,
            promotedAt: PROMOTED_AT,
            reason: "emergency failover: us-east-1 lost",
        });
        await putObject(moto!.s3(), BUCKET, fenceMarkerKey(PEER), JSON.stringify({ ...JSON.parse(body), ...overrides }));
    }

    function metrics(): Sample[] {
        return parseMetrics(jobs!.readFile("fence-check.prom"));
    }

    async function run(e: Record<string, string>): Promise<JobResult> {
        return jobs!.run(FENCE_CHECK.script, e, { timeoutMs: 120000 });
    }

    const teardown = teardownForSuite("fence-check tests");

    before(async function () {
        requireJobTools();
        const m = (moto = await MotoServer.start());
        teardown.add("stop moto_server", () => m.stop());
        await m.createBucket(BUCKET, { versioning: true });
        const a = (api = await KubeApiStandIn.start(API));
        teardown.add("stop the Kubernetes API stand-in", () => a.stop());
        const g = (gateway = await FakePushgateway.start());
        teardown.add("stop the pushgateway", () => g.stop());
        const j = (jobs = JobSandbox.create("fence"));
        teardown.add("remove the job sandbox", () => j.cleanup());
        tokenFile = j.writeFile("token", TOKEN);
    });

    beforeEach(async function () {
        api!.reset();
        await moto!.s3().send(new DeleteObjectCommand({ Bucket: BUCKET, Key: fenceMarkerKey(PEER) }));
    });


    it("no marker: reads its Cluster, patches nothing, publishes fenced 0", async function () {
        const r = await run(env("primary", 0, { PUSHGATEWAY_URL: gateway!.url }));
        assertSucceeded(r);
        assert.deepEqual(api!.requests.map((q) => `${q.method} ${q.path}`), [`GET ${CLUSTER_PATH}`]);
        assert.equal(api!.requests[0].authorization, `Bearer ${TOKEN}`, "the service account token as bearer token");
        const m = metrics();
        assert.equal(metricValue(m, M.success), 1);
        assert.equal(metricValue(m, M.fenced), 0);
        assert.equal(metricValue(m, M.markerGeneration), 0);
        assert.equal(metricValue(m, M.markerTimestamp), undefined);
        assert.equal(metricValue(m, M.promotionGeneration), 0);
        const pushes = gateway!.pushesTo(`/metrics/job/${FENCE_CHECK.pushgatewayJob}/cluster/${CLUSTER}`);
        assert.equal(pushes.length, 1, "metrics pushed under the fence job's name");
        assert.equal(pushes[0].method, "POST");
        assert.equal(metricValue(parseMetrics(pushes[0].body), M.fenced), 0);
    });

    it("a marker from the promoted peer: exactly one merge patch fences the whole cluster; a second run changes nothing", async function () {
        await deliverMarker(1);
        const r = await run(env("primary", 0));
        assertSucceeded(r);
        const patches = api!.patches();
        assert.equal(patches.length, 1, `one PATCH, got ${api!.requests.map((q) => q.method).join(", ")}`);
        assert.equal(patches[0].path, CLUSTER_PATH);
        assert.equal(patches[0].contentType, "application/merge-patch+json");
        assert.deepEqual(JSON.parse(patches[0].body), { metadata: { annotations: { [CNPG_FENCING.annotation]: CNPG_FENCING.allInstances } } });
        assert.equal(api!.annotation(), '["*"]', "the Cluster now carries the fence");
        assert.match(r.stdout, /FENCED Cluster drstack\/pg-test-use1/);
        const m = metrics();
        assert.equal(metricValue(m, M.fenced), 1);
        assert.equal(metricValue(m, M.markerGeneration), 1);
        assert.equal(metricValue(m, M.markerTimestamp), Date.parse(PROMOTED_AT) / 1000);
        const marker = m.find((s) => s.name === M.markerGeneration)!;
        assert.deepEqual(marker.labels, { cluster: CLUSTER, peer: PEER });

        api!.requests.length = 0;
        const again = await run(env("primary", 0));
        assertSucceeded(again);
        assert.deepEqual(api!.requests.map((q) => q.method), ["GET"], "already fenced: no second patch");
        assert.match(again.stdout, /already fenced/);
        assert.equal(metricValue(metrics(), M.fenced), 1);
    });

    it("a partial fence (one instance) is widened to the whole cluster, as `kubectl cnpg fencing on <cluster> \"*\"` does", async function () {
        api!.reset({ [CNPG_FENCING.annotation]: `["${CLUSTER}-1"]` });
        await deliverMarker(3);
        assertSucceeded(await run(env("primary", 2)));
        assert.equal(api!.patches().length, 1);
        assert.equal(api!.annotation(), '["*"]');
    });

    it("a stale marker (generation not above this cluster's promotion generation) patches nothing", async function () {
        await deliverMarker(1);
        for (const generation of [1, 2]) {
            api!.requests.length = 0;
            const r = await run(env("primary", generation));
            assertSucceeded(r);
            assert.equal(api!.patches().length, 0, `promotion generation ${generation}`);
            assert.match(r.stdout, /stale marker/);
            assert.equal(metricValue(metrics(), M.fenced), 0);
            assert.equal(metricValue(metrics(), M.promotionGeneration), generation);
        }
    });

    it("a stack declared standby neither patches nor reads its Cluster", async function () {
        await deliverMarker(5);
        const r = await run(env("standby", 0));
        assertSucceeded(r);
        assert.deepEqual(api!.requests, []);
        assert.equal(metricValue(metrics(), M.markerGeneration), 5);
        assert.equal(metricValue(metrics(), M.fenced), undefined);
    });

    it("the API refusing the patch fails the job with one line and success 0", async function () {
        await deliverMarker(1);
        api!.failWith = { code: 403, message: `clusters.postgresql.cnpg.io "${CLUSTER}" is forbidden: cannot patch`, methods: ["PATCH"] };
        const r = await run(env("primary", 0));
        assertFailedWith(r, /^fencing Cluster drstack\/pg-test-use1 failed: HTTP 403 from the Kubernetes API: .*is forbidden: cannot patch$/);
        assert.equal(metricValue(metrics(), M.success), 0);
        assert.equal(metricValue(metrics(), M.fenced), 0);
    });

    it("an API server that cannot be read or reached fails the job with one line", async function () {
        api!.failWith = { code: 500, message: "etcdserver: request timed out", methods: ["GET"] };
        assertFailedWith(await run(env("primary", 0)), /^reading Cluster drstack\/pg-test-use1 failed: HTTP 500 from the Kubernetes API: etcdserver: request timed out$/);
        const closed = `http://${LOOPBACK}:${await freePort()}`;
        assertFailedWith(await run(env("primary", 0, { KUBE_API_URL: closed })), /^reading Cluster .* failed: cannot reach the Kubernetes API at http:\/\/127\.0\.0\.1:\d+ \(curl exit 7\)/);
        assertFailedWith(await run(env("primary", 0, { KUBE_TOKEN_FILE: jobs!.path("missing-token") })), /^cannot read the service account token .*missing-token \(KUBE_TOKEN_FILE/);
    });

    it("refuses a marker that breaks the contract, and patches nothing", async function () {
        await deliverMarker(1, { fencedCluster: "pg-other-euw1" });
        assertFailedWith(await run(env("primary", 0)), /fence marker s3:\/\/backups-test-us-east-1\/fence\/pg-test-usw2\.json fences "pg-other-euw1", not this cluster pg-test-use1/);
        await deliverMarker(1, { format: "drstack-fence/9" });
        assertFailedWith(await run(env("primary", 0)), /has format "drstack-fence\/9", expected drstack-fence\/1/);
        await deliverMarker(1, { generation: 0 });
        assertFailedWith(await run(env("primary", 0)), /has generation 0, expected a whole number from 1 to 999999999/);
        await putObject(moto!.s3(), BUCKET, fenceMarkerKey(PEER), "{not json");
        assertFailedWith(await run(env("primary", 0)), /is not valid JSON/);
        assert.equal(api!.patches().length, 0);
    });

    it("in a pod: finds the API server from KUBERNETES_SERVICE_HOST/PORT and checks its certificate against the CA", async function () {
        // A self-signed certificate for 127.0.0.1 stands in for the cluster CA.
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "drstack-fence-tls-"));
        let tlsApi: KubeApiStandIn | undefined;
        try {
            const [key, cert] = [path.join(dir, "key.pem"), path.join(dir, "cert.pem")];
            const subject = ["-subj", `/CN=${LOOPBACK}`, "-addext", `subjectAltName=IP:${LOOPBACK}`];
            execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-keyout", key, "-out", cert, ...subject], { stdio: "ignore" });
            tlsApi = await KubeApiStandIn.start(API, { key: fs.readFileSync(key, "utf8"), cert: fs.readFileSync(cert, "utf8") });
            tlsApi.reset();
            const caFile = jobs!.writeFile("ca.crt", fs.readFileSync(cert, "utf8"));
            await deliverMarker(1);
            const inPod = { KUBE_API_URL: "", KUBERNETES_SERVICE_HOST: LOOPBACK, KUBERNETES_SERVICE_PORT: String(tlsApi.port) };
            assertSucceeded(await run(env("primary", 0, { ...inPod, KUBE_CA_FILE: caFile })));
            assert.equal(tlsApi.patches().length, 1, "fenced over TLS");
            assert.equal(tlsApi.annotation(), '["*"]');

            // Another CA: curl refuses the server, the job says so and nothing is patched.
            execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-keyout", key, "-out", cert, ...subject], { stdio: "ignore" });
            const otherCa = jobs!.writeFile("other-ca.crt", fs.readFileSync(cert, "utf8"));
            tlsApi.reset();
            assertFailedWith(await run(env("primary", 0, { ...inPod, KUBE_CA_FILE: otherCa })), /^reading Cluster .* failed: cannot reach the Kubernetes API at https:\/\/127\.0\.0\.1:\d+ \(curl exit 60\)/);
            assert.deepEqual(tlsApi.requests, []);
        } finally {
            await tlsApi?.stop();
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("refuses bad settings before touching S3 or the API", async function () {
        assertFailedWith(await run(env("primary", 0, { CLUSTER_ROLE: "leader" })), /^CLUSTER_ROLE must be primary or standby .*got 'leader'$/);
        assertFailedWith(await run(env("primary", 0, { PROMOTION_GENERATION: "two" })), /^PROMOTION_GENERATION must be a whole number, got 'two'$/);
        assertFailedWith(await run(env("primary", 0, { PEER_CLUSTER_NAME: CLUSTER })), /^PEER_CLUSTER_NAME must name the other stack's cluster/);
        assert.deepEqual(api!.requests, []);
    });
});
