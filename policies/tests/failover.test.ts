import { strict as assert } from "assert";
import { failoverHealthCheck, singleRole } from "../failover";
import { Fixture, violations, withProp } from "./helpers";

const record = (type: string, healthCheckId?: string): Fixture => ({
    type: "aws:route53/record:Record",
    name: "record",
    props: { name: "db.example.com", type: "CNAME", failoverRoutingPolicies: [{ type }], ...(healthCheckId ? { healthCheckId } : {}) },
});
const region = (role: string, home = role === "primary"): Fixture => ({
    type: "drstack:region:DrRegion",
    name: "region",
    props: { config: { role, region: "us-west-2", homeRegion: home ? "us-west-2" : "us-east-1", names: { cluster: "pg-a" } } },
});
const replicating = (...prefixes: (string | undefined)[]): Fixture => ({
    type: "aws:s3/bucketReplicationConfig:BucketReplicationConfig",
    name: "repl",
    props: { rules: prefixes.map((prefix, i) => ({ id: `r${i}`, filter: prefix === undefined ? {} : { prefix } })) },
});
const cluster = (self: string, primary: string): Fixture => ({ type: "kubernetes:postgresql.cnpg.io/v1:Cluster", name: "cluster", props: { spec: { replica: { self, primary, source: "b" } } } });
const replication: Fixture = { type: "aws:s3/bucketReplicationConfig:BucketReplicationConfig", name: "repl", props: { rules: [] } };

describe("policies: failover and roles", () => {
    it("failover-record-health-check: a failover record needs a health check", async () => {
        assert.deepEqual(await violations(failoverHealthCheck, record("PRIMARY", "hc-1")), []);
        assert.match((await violations(failoverHealthCheck, record("PRIMARY")))[0], /failover record db\.example\.com has no healthCheckId/);
        assert.deepEqual(await violations(failoverHealthCheck, { ...record("PRIMARY"), props: withProp(record("PRIMARY").props, "failoverRoutingPolicies", []) }), [], "plain records are not failover records");
    });
    it("one-role-per-stack: record, cluster and replication agree with the one role", async () => {
        assert.deepEqual(await violations(singleRole, [region("primary"), record("PRIMARY", "hc"), cluster("a", "a"), replication]), []);
        assert.deepEqual(await violations(singleRole, [region("standby"), record("SECONDARY", "hc"), cluster("a", "b")]), []);
        // Static records: a promoted non-home region keeps SECONDARY, a demoted home region keeps PRIMARY.
        assert.deepEqual(await violations(singleRole, [region("primary", false), record("SECONDARY", "hc"), cluster("a", "a"), replication]), []);
        assert.deepEqual(await violations(singleRole, [region("standby", true), record("PRIMARY", "hc"), cluster("a", "b")]), []);
    });
    it("one-role-per-stack: either role replicates, but only its own cluster's prefixes", async () => {
        for (const role of ["primary", "standby"]) {
            assert.deepEqual(await violations(singleRole, [region(role), replicating("pg-a/", "logical/pg-a/", "verification/pg-a/", "fence/pg-a.json")]), [], role);
        }
        assert.match((await violations(singleRole, [region("standby"), replicating(undefined)]))[0], /rule "r0" selects every object; a stack may replicate only its own cluster's \(pg-a\) prefixes/);
        assert.match((await violations(singleRole, [region("primary"), replicating("pg-a/", "pg-b/")]))[0], /rule "r1" selects prefix "pg-b\/"/);
    });
    it("one-role-per-stack: each disagreement is named", async () => {
        assert.match((await violations(singleRole, [region("primary"), record("SECONDARY", "hc")]))[0], /failover type is SECONDARY but us-west-2 is the home region us-west-2 \(expected PRIMARY; records are static/);
        assert.match((await violations(singleRole, [region("primary", false), record("PRIMARY", "hc")]))[0], /failover type is PRIMARY but us-west-2 is not the home region us-east-1 \(expected SECONDARY/);
        assert.match((await violations(singleRole, [region("standby"), cluster("a", "a")]))[0], /makes it primary, but the stack's role is standby/);
        assert.match((await violations(singleRole, [region("primary"), { ...region("standby"), name: "second" }]))[0], /declares 2 DR regions/);
        assert.match((await violations(singleRole, []))[0], /declares 0 DR regions/);
        assert.match((await violations(singleRole, [region("leader")]))[0], /role is "leader"; it must be primary or standby/);
    });
});
