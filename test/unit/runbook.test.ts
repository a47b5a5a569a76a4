// The runbook-step driver (drill/runbook.ts) and the DNS emulation over what it reads
// (drill/dnsEmulation.ts), under the Pulumi mocks, without PostgreSQL: each step is a real program
// run with the step's config and the peers' outputs; the declared state is read back from the
// resources the program registered, and shapes the drill cannot apply are refused.
import { strict as assert } from "assert";
import { DnsEmulation } from "../../drill/dnsEmulation";
import { decodePromotionToken, encodePromotionToken, PromotionToken } from "../../drill/promotionToken";
import { clusterChange, DeclaredStep, mainCluster, parseCluster, RunbookState } from "../../drill/runbook";
import { parseConfig, readStackConfig } from "../../config";
import { DEPLOYED_OBJECTS } from "../../tools/offline/mocks";
import { testTimeout } from "../support/timeouts";

const primary = parseConfig(readStackConfig("primary"), "primary");
const dr = parseConfig(readStackConfig("dr"), "dr");
const EMERGENCY = { "drstack:role": "primary", "drstack:emergencyFailover": true, "drstack:promotion.generation": 1, "drstack:promotion.at": "2026-11-24T11:00:00Z" };
const TOKEN: PromotionToken = {
    latestCheckpointTimelineID: "1",
    redoWalFile: "000000010000000000000009",
    databaseSystemIdentifier: "7441234567890123456",
    latestCheckpointREDOLocation: "0/9000028",
    timeOfLatestCheckpoint: "Tue Nov 24 11:00:00 2026",
    operatorVersion: "test",
};

/** Route53 resources of a declared step, as the DNS emulation reads them. */
const route53 = (s: DeclaredStep) => ({ records: s.dns.records, healthChecks: s.dns.healthChecks });

describe("the runbook-step driver (program under mocks)", function () {
    this.timeout(testTimeout(300_000));

    let deployed: { primary: DeclaredStep; dr: DeclaredStep };
    let state: RunbookState;
    before(async () => {
        state = new RunbookState(["primary", "dr"]);
        deployed = { primary: await state.run({ stack: "primary" }, DEPLOYED_OBJECTS), dr: await state.run({ stack: "dr" }, DEPLOYED_OBJECTS) };
    });

    it("reads the deployed pair: the home cluster writable (initdb), the other a replica of it (recovery)", () => {
        const home = mainCluster(deployed.primary);
        const other = mainCluster(deployed.dr);
        assert.deepEqual([home.name, home.writable, home.bootstrap], [primary.names.cluster, true, { method: "initdb" }]);
        assert.deepEqual([other.name, other.writable, other.replicaOf, other.bootstrap], [dr.names.cluster, false, primary.names.cluster, { method: "recovery", source: primary.names.cluster }]);
        assert.deepEqual(deployed.dr.fenceMarkers, [], "no marker before any failover");
        assert.equal(deployed.primary.fenceCheck?.env.CLUSTER_ROLE, "primary");
        assert.equal(deployed.primary.fenceCheck?.env.PEER_CLUSTER_NAME, dr.names.cluster);
        assert.equal(deployed.primary.fenceCheck?.concurrencyPolicy, "Forbid");
        assert.deepEqual(deployed.primary.dns.records.map((r) => r.failover), ["PRIMARY"]);
        assert.deepEqual(deployed.dr.dns.records.map((r) => r.failover), ["SECONDARY"]);
    });

    it("the emergency role flip declares the dr Cluster primary, a fence marker and the raised fence; no Route53 resource changes", async () => {
        const flip = state.fork();
        const before = deployed.dr;
        const after = await flip.run({ stack: "dr", overrides: EMERGENCY }, DEPLOYED_OBJECTS);
        const cluster = mainCluster(after);
        assert.equal(cluster.writable, true);
        assert.equal(cluster.token, undefined, "an emergency promotion carries no token");
        assert.deepEqual(clusterChange(mainCluster(before), cluster), { kind: "promote", token: undefined });
        assert.deepEqual(cluster.bootstrap, mainCluster(before).bootstrap, "the flip never changes the bootstrap");
        assert.equal(after.fenceMarkers.length, 1);
        const m = after.fenceMarkers[0];
        assert.equal(m.bucket, dr.names.bucket, "written into its own bucket, never the lost region's");
        assert.deepEqual([m.marker.promotedCluster, m.marker.fencedCluster, m.marker.generation, m.marker.promotedAt], [dr.names.cluster, primary.names.cluster, 1, "2026-11-24T11:00:00Z"]);
        assert.equal(after.fenceCheck?.env.PROMOTION_GENERATION, "1");
        assert.deepEqual(route53(after), route53(before), "records and health checks unchanged by the flip");
        assert.deepEqual(after.replication, before.replication, "replication unchanged by the flip");
        assert.deepEqual(before.dns.alarms.map((a) => a.treatMissingData), ["notBreaching"]);
        assert.deepEqual(after.dns.alarms.map((a) => a.treatMissingData), ["breaching"]);
        assert.deepEqual(after.overrides, EMERGENCY, "the step's settings are kept for later steps");
        assert.equal(flip.outputs["acme/drstack/dr"].role, "primary", "the peer's StackReference now reads role primary");
    });

    it("a planned switchover: demotion declares a replica, the published token becomes the promotion token", async () => {
        const sw = state.fork();
        const [home0, dr0] = [deployed.primary, deployed.dr];
        const home1 = await sw.run({ stack: "primary", overrides: { "drstack:role": "standby" } }, DEPLOYED_OBJECTS);
        assert.deepEqual(clusterChange(mainCluster(home0), mainCluster(home1)), { kind: "demote", replicaOf: dr.names.cluster });
        assert.deepEqual(route53(home1), route53(home0));
        sw.setOutput("primary", "demotionToken", encodePromotionToken(TOKEN));
        const dr1 = await sw.run({ stack: "dr", overrides: { "drstack:role": "primary", "drstack:promotion.generation": 1 } }, DEPLOYED_OBJECTS);
        assert.deepEqual(clusterChange(mainCluster(dr0), mainCluster(dr1)), { kind: "promote", token: TOKEN });
        assert.deepEqual(dr1.fenceMarkers, [], "a planned promotion writes no fence marker");
        assert.deepEqual(route53(dr1), route53(dr0));
    });

    it("refuses settings that are not stack settings, and stacks it does not know", async () => {
        await assert.rejects(state.fork().run({ stack: "dr", overrides: { role: "primary" } }, DEPLOYED_OBJECTS), /override "role" is not a stack setting \(drstack:<key>/);
        assert.throws(() => new RunbookState(["primary", "staging"]), /unknown stack "staging": no Pulumi.staging.yaml/);
        await assert.rejects(new RunbookState(["primary"]).run({ stack: "dr" }, DEPLOYED_OBJECTS), /runbook step for stack dr, which is not one of primary/);
    });

    it("refuses Cluster shapes the drill cannot apply", () => {
        const cluster = (spec: Record<string, unknown>, annotations?: Record<string, string>) => ({ name: "c", inputs: { metadata: { name: "pg-a", annotations }, spec: { bootstrap: { initdb: {} }, ...spec } } });
        assert.throws(() => parseCluster(cluster({ replica: { enabled: true, source: "pg-b" } }), "pg-a"), /spec.replica.enabled is not understood/);
        assert.throws(() => parseCluster(cluster({ replica: { primary: "pg-b", source: "pg-c", self: "pg-a" } }), "pg-a"), /cascading replicas are not emulated/);
        assert.throws(() => parseCluster(cluster({ bootstrap: { pg_basebackup: { source: "pg-b" } } }), "pg-a"), /spec.bootstrap \["pg_basebackup"\] is not understood/);
        assert.throws(() => parseCluster(cluster({}, { "cnpg.io/fencedInstances": "*" }), "pg-a"), /is not a JSON list of instance names/);
        assert.throws(() => parseCluster(cluster({ replica: { primary: "pg-a", source: "pg-b", promotionToken: "eyJhIjoxfQ==" } }), "pg-a"), /promotionToken does not carry CloudNativePG's token fields/);
        assert.deepEqual(parseCluster(cluster({}, { "cnpg.io/fencedInstances": '["*"]' }), "pg-a").fencedInstances, ["*"]);
        assert.deepEqual(decodePromotionToken(encodePromotionToken(TOKEN), "x"), TOKEN);
    });

    it("the DNS emulation: the flip moves answers to the SECONDARY by the fence alarm alone, after one evaluation", async () => {
        const dns = state.fork();
        const [home, other] = [deployed.primary, deployed.dr];
        let now = 0;
        const up = new Set([home.dns.records[0].target, other.dns.records[0].target]);
        const emulation = new DnsEmulation(60, async (fqdn) => up.has(fqdn), () => now);
        emulation.apply("primary", primary.region, home.dns, true);
        emulation.apply("dr", dr.region, other.dns, true);
        const name = home.dns.records[0].name;
        assert.equal((await emulation.resolve(name)).record.failover, "PRIMARY", "both healthy, fence down");

        const flipped = await dns.run({ stack: "dr", overrides: EMERGENCY }, DEPLOYED_OBJECTS);
        emulation.apply("dr", dr.region, flipped.dns);
        assert.equal((await emulation.resolve(name)).record.failover, "PRIMARY", "the alarm changes at its next evaluation, not at once");
        now = 1001; // one 60 s period at 1:60
        assert.equal(emulation.alarmState(dr.region, flipped.dns.alarms[0].name), "ALARM");
        const answer = await emulation.resolve(name);
        assert.deepEqual([answer.record.failover, answer.why], ["SECONDARY", "PRIMARY unhealthy, SECONDARY healthy"], "the home endpoint is up, yet fenced");

        emulation.regionLost(dr.region);
        up.delete(other.dns.records[0].target);
        const lost = await emulation.resolve(name);
        assert.deepEqual([lost.record.failover, lost.why], ["PRIMARY", "both unhealthy: Route53 answers the PRIMARY (last resort)"],
            "the fence keeps its last known status (fenced) while its region is gone; with the SECONDARY down too Route53 answers the PRIMARY");
    });
});
