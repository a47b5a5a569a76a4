// The two shipped stacks as a pair, and bad config stopping the real program before any resource.
import { strict as assert } from "assert";
import { parseConfig, readStackConfig, readStackFile } from "../../config";
import { runProgram, runProgramExpectingError } from "../support/program";

/** Settings that must be identical in both stack files (names, targets, bucket rules). */
const SHARED_KEYS = ["drstack:prefix", "drstack:homeRegion", "drstack:rpo", "drstack:rto", "drstack:recoveryWindow", "drstack:walUploadAllowance", "drstack:backupBucket", "drstack:replication", "drstack:postgres", "drstack:backups", "drstack:alerts"];

describe("the shipped stacks", () => {
    const primary = parseConfig(readStackConfig("primary"), "primary");
    const dr = parseConfig(readStackConfig("dr"), "dr");

    it("are one primary and one standby, each naming the other's region as its peer", () => {
        assert.deepEqual([primary.role, dr.role], ["primary", "standby"]);
        assert.equal(primary.peerRegion, dr.region);
        assert.equal(dr.peerRegion, primary.region);
        assert.notEqual(primary.region, dr.region);
    });

    it("agree on every shared setting (so names, targets and bucket rules cannot drift)", () => {
        const p = readStackFile("primary");
        const d = readStackFile("dr");
        for (const key of SHARED_KEYS) {
            assert.deepEqual(p[key], d[key], `${key} differs between Pulumi.primary.yaml and Pulumi.dr.yaml`);
        }
    });

    it("export role, region and the derived archive timeout", async () => {
        const run = await runProgram("primary");
        assert.equal(run.outputs.role, "primary");
        assert.equal(run.outputs.awsRegion, "us-east-1");
        assert.equal(run.outputs.walArchiveTimeout, "270s");
        assert.equal(run.outputs.rpoBounds.regionRpoNeedsStreaming, true);
    });
});

describe("bad config stops the program before any resource is declared", () => {
    const classes: [string, Record<string, unknown>, RegExp][] = [
        ["unknown role", { "drstack:role": "leader" }, /drstack:role: "leader" is not allowed; allowed: primary, standby/],
        ["peer region equal to region", { "drstack:peerRegion": "us-west-2" }, /drstack:peerRegion: "us-west-2" is this stack's own region/],
        ["RPO not a duration", { "drstack:rpo.region": "five minutes" }, /drstack:rpo\.region: "five minutes" is not a duration/],
        ["RPO larger than the recovery window", { "drstack:rpo.data-corruption": "31d" }, /drstack:rpo\.data-corruption: 31d is larger than drstack:recoveryWindow 30d/],
        ["misspelled key", { "drstack:peerregion": "us-east-1" }, /drstack:peerregion: unknown setting/],
    ];
    for (const [name, overrides, expected] of classes) {
        it(name, async () => {
            const { error, declared } = await runProgramExpectingError("dr", overrides);
            assert.match(error.message, expected);
            assert.match(error.message, /stack "dr" \(nothing was deployed\)/);
            assert.deepEqual(declared.map((r) => r.name), []);
        });
    }
});
