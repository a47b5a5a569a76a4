// The fence contract (model/fence.ts): the marker the promoted stack writes must be one that
// scripts/fence-check.sh accepts, and the names the script and its README use are the model's.

import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import {
    CNPG_FENCING,
    FENCE_CHECK,
    FENCE_MARKER_FORMAT,
    FENCE_MARKER_PREFIX,
    fenceCheckEnv,
    fenceCheckRbacRules,
    fenceMarkerBody,
    fenceMarkerKey,
    FenceMarkerSchema,
} from "../../model/fence";

const SCRIPTS = path.resolve(__dirname, "../../scripts");
const marker = {
    promotedCluster: "pg-acme-usw2",
    fencedCluster: "pg-acme-use1",
    generation: 2,
    promotedAt: "2026-11-24T11:00:00Z",
    reason: "emergency failover: us-east-1 lost",
};

describe("fence contract (model/fence.ts)", function () {
    it("keys a marker by the promoted cluster under the fence prefix", function () {
        assert.equal(fenceMarkerKey("pg-acme-usw2"), "fence/pg-acme-usw2.json");
        assert.ok(fenceMarkerKey("x").startsWith(FENCE_MARKER_PREFIX));
    });

    it("writes a marker body that parses back to the same fields plus the format", function () {
        const parsed = JSON.parse(fenceMarkerBody(marker));
        assert.deepEqual(parsed, { format: FENCE_MARKER_FORMAT, ...marker });
    });

    it("refuses markers the job would refuse", function () {
        const bad: [string, Partial<typeof marker>][] = [
            ["generation 0 (the home primary's own)", { generation: 0 }],
            ["a fractional generation", { generation: 1.5 }],
            ["a generation the shell cannot compare", { generation: 1e10 }],
            ["fractional seconds (jq's fromdate reads whole seconds)", { promotedAt: "2026-11-24T11:00:00.5Z" }],
            ["a time zone offset", { promotedAt: "2026-11-24T11:00:00+01:00" }],
            ["a cluster fencing itself", { fencedCluster: "pg-acme-usw2" }],
            ["a multi-line reason", { reason: "a\nb" }],
            ["a cluster name with a slash", { promotedCluster: "pg/x" }],
        ];
        for (const [what, change] of bad) {
            assert.throws(() => fenceMarkerBody({ ...marker, ...change }), /./, what);
        }
        assert.equal(FenceMarkerSchema.safeParse({ format: FENCE_MARKER_FORMAT, ...marker, extra: 1 }).success, false, "unknown fields");
    });

    it("passes the job exactly the settings scripts/README.md documents", function () {
        const env = fenceCheckEnv({ cluster: "pg-acme-use1", peerCluster: "pg-acme-usw2", role: "primary", promotionGeneration: 0, bucket: "b" });
        assert.deepEqual(env, {
            CLUSTER_NAME: "pg-acme-use1",
            PEER_CLUSTER_NAME: "pg-acme-usw2",
            CLUSTER_ROLE: "primary",
            PROMOTION_GENERATION: "0",
            S3_BUCKET: "b",
        });
        assert.throws(() => fenceCheckEnv({ cluster: "a", peerCluster: "b", role: "primary", promotionGeneration: -1, bucket: "b" }), /whole number/);
        const readme = fs.readFileSync(path.join(SCRIPTS, "README.md"), "utf8");
        const section = readme.slice(readme.indexOf("## `fence-check.sh`"), readme.indexOf("## `VERIFY_SQL_FILE` contract"));
        assert.ok(section.length > 100, "scripts/README.md has a fence-check.sh section");
        for (const name of Object.keys(env)) {
            assert.ok(section.includes(`| \`${name}\``), `README documents ${name}`);
        }
        const script = fs.readFileSync(path.join(SCRIPTS, FENCE_CHECK.script), "utf8");
        for (const metric of Object.values(FENCE_CHECK.metrics)) {
            assert.ok(section.includes(`| \`${metric}\``), `README documents ${metric}`);
            assert.ok(script.includes(metric), `${FENCE_CHECK.script} publishes ${metric}`);
        }
        for (const name of [FENCE_CHECK.pushgatewayJob, CNPG_FENCING.annotation, FENCE_MARKER_PREFIX, FENCE_MARKER_FORMAT]) {
            assert.ok(script.includes(name), `${FENCE_CHECK.script} uses ${name}`);
        }
    });

    it("grants the job get and patch on its own Cluster only", function () {
        assert.deepEqual(fenceCheckRbacRules("pg-acme-use1"), [
            { apiGroups: ["postgresql.cnpg.io"], resources: ["clusters"], resourceNames: ["pg-acme-use1"], verbs: ["get", "patch"] },
        ]);
    });
});
