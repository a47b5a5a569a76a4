// The config module: derived settings follow the RPO, and each class of bad value is rejected
// with a message that names the key, the bad value and what is allowed.
import { strict as assert } from "assert";
import { ConfigError, parseConfig } from "../../config";
import { formatDuration, parseDuration } from "../../model/duration";
import { regionShortCode } from "../../model/naming";
import { logShippingRegionLossBoundSeconds, RTC_REPLICATION_BOUND_SECONDS } from "../../model/rpo";
import { stackConfigWith } from "../support/program";

function parse(stack: string, overrides: Record<string, unknown> = {}) {
    return parseConfig(stackConfigWith(stack, overrides), stack);
}

function problemsOf(stack: string, overrides: Record<string, unknown>): string[] {
    try {
        parse(stack, overrides);
    } catch (error) {
        assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${error}`);
        return error.problems;
    }
    assert.fail(`config ${JSON.stringify(overrides)} was accepted`);
}

describe("durations", () => {
    it("parses units and combinations to seconds", () => {
        assert.equal(parseDuration("30s"), 30);
        assert.equal(parseDuration("5m"), 300);
        assert.equal(parseDuration("1h30m"), 5400);
        assert.equal(parseDuration("7d"), 7 * 86400);
        assert.equal(parseDuration("2w"), 14 * 86400);
    });
    it("counts a year with its leap-day share, so 7y of retention is never short", () => {
        assert.equal(Math.ceil(parseDuration("7y")! / 86400), 2557);
    });
    it("rejects what it would have to guess", () => {
        for (const text of ["5", "5 minutes", "m5", "-5m", "5.5m", "", "5M"]) {
            assert.equal(parseDuration(text), undefined, text);
        }
    });
    it("formats back into exact units", () => {
        assert.equal(formatDuration(270), "4m30s");
        assert.equal(formatDuration(86400 * 30), "30d");
    });
});

describe("stack config: derived settings", () => {
    it("derives archive_timeout from the RPO minus the WAL upload allowance (shipped primary: 5m - 30s)", () => {
        const c = parse("primary");
        assert.equal(c.wal.archiveTimeoutSeconds, 5 * 60 - 30);
        assert.equal(c.wal.archiveTimeout, "270s");
        assert.equal(c.wal.boundBy, "data-corruption");
        assert.equal(c.wal.pointInTimeRestoreBoundSeconds, c.rpo.dataCorruptionSeconds);
    });

    it("moves archive_timeout when the RPO or the upload allowance moves", () => {
        assert.equal(parse("primary", { "drstack:rpo.data-corruption": "2m" }).wal.archiveTimeoutSeconds, 90);
        assert.equal(parse("primary", { "drstack:walUploadAllowance": "1m" }).wal.archiveTimeoutSeconds, 240);
    });

    it("lets a region RPO that log shipping can meet tighten archive_timeout", () => {
        // 20m region RPO by log shipping: 20m - 30s upload - 15m RTC leaves 4m30s, below the 10m data-corruption bound.
        const c = parse("primary", { "drstack:rpo.region": "20m", "drstack:rpo.data-corruption": "10m" });
        assert.equal(c.wal.archiveTimeoutSeconds, 20 * 60 - 30 - RTC_REPLICATION_BOUND_SECONDS);
        assert.equal(c.wal.boundBy, "region");
        assert.equal(c.wal.regionRpoNeedsStreaming, false);
        assert.ok(c.wal.logShippingRegionLossBoundSeconds <= c.rpo.regionSeconds);
    });

    it("says when the region RPO is below what log shipping alone can promise", () => {
        const c = parse("primary");
        assert.equal(c.wal.logShippingRegionLossBoundSeconds, logShippingRegionLossBoundSeconds(270, 30));
        assert.equal(c.wal.logShippingRegionLossBoundSeconds, 270 + 30 + 900);
        assert.equal(c.wal.regionRpoNeedsStreaming, true);
    });

    it("derives names deterministically from the prefix and regions, peers mirrored", () => {
        const p = parse("primary");
        const d = parse("dr");
        assert.equal(p.names.bucket, "backups-acme-orders-us-east-1");
        assert.equal(p.names.peerBucket, d.names.bucket);
        assert.equal(d.names.peerBucket, p.names.bucket);
        assert.equal(p.names.keyAlias, d.names.keyAlias);
        assert.equal(p.names.cluster, "pg-acme-orders-use1");
        assert.equal(d.names.peerCluster, p.names.cluster);
        assert.equal(regionShortCode("ap-southeast-2"), "apse2");
    });

    it("turns retention durations into lifecycle day counts", () => {
        const c = parse("primary", { "drstack:recoveryWindow": "45d" });
        assert.equal(c.recoveryWindowDays, 45);
        assert.equal(c.backupBucket.noncurrentVersionDays, 45, "noncurrent versions default to the recovery window");
        assert.equal(c.backupBucket.longTermArchive.expirationDays, 2557);
        assert.equal(c.backupBucket.objectLock?.days, 14);
    });

    it("fills defaults for optional sections", () => {
        const c = parse("primary", { "drstack:backupBucket": undefined, "drstack:replication": undefined, "drstack:recoveryWindow": undefined });
        assert.equal(c.recoveryWindowDays, 30);
        assert.equal(c.backupBucket.objectLock, undefined);
        assert.equal(c.backupBucket.protect, true);
        assert.equal(c.backupBucket.abortIncompleteUploadDays, 3);
        assert.deepEqual(c.backupBucket.longTermArchive, { prefix: "archive/", transitionDays: 30, storageClass: "DEEP_ARCHIVE", expirationDays: 2557 });
        assert.equal(c.replication.enabled, true);
        assert.equal(c.replication.replicationTimeControl, true);
    });

    it("reads booleans written as strings, as Pulumi hands flat config to programs", () => {
        const flat = stackConfigWith("primary", { "drstack:replication": undefined });
        flat["drstack:replication"] = JSON.stringify({ enabled: "false" });
        assert.equal(parseConfig(flat, "primary").replication.enabled, false);
    });
});

describe("stack config: each class of bad value is rejected by name", () => {
    const cases: { name: string; overrides: Record<string, unknown>; expect: RegExp }[] = [
        { name: "unknown role", overrides: { "drstack:role": "leader" }, expect: /^drstack:role: "leader" is not allowed; allowed: primary, standby$/ },
        { name: "missing role", overrides: { "drstack:role": undefined }, expect: /^drstack:role is required: primary or standby$/ },
        { name: "region equal to peer region", overrides: { "drstack:peerRegion": "us-east-1" }, expect: /^drstack:peerRegion: "us-east-1" is this stack's own region \(aws:region\)/ },
        { name: "peer region not a region", overrides: { "drstack:peerRegion": "west" }, expect: /^drstack:peerRegion: "west" is not an AWS region name like us-east-1$/ },
        { name: "missing aws:region", overrides: { "aws:region": undefined }, expect: /^aws:region is required/ },
        { name: "aws:region not a region", overrides: { "aws:region": "virginia" }, expect: /^aws:region: "virginia" is not an AWS region name/ },
        { name: "RPO not a duration", overrides: { "drstack:rpo.region": "5 minutes" }, expect: /^drstack:rpo\.region: "5 minutes" is not a duration; use a number and a unit/ },
        { name: "RPO as a bare number", overrides: { "drstack:rpo.data-corruption": 300 }, expect: /^drstack:rpo\.data-corruption: 300 is not a duration/ },
        { name: "RPO missing a disruption type", overrides: { "drstack:rpo.data-corruption": undefined }, expect: /^drstack:rpo\.data-corruption is required$/ },
        { name: "RTO not a duration", overrides: { "drstack:rto.region": "fast" }, expect: /^drstack:rto\.region: "fast" is not a duration/ },
        { name: "RPO larger than the recovery window", overrides: { "drstack:rpo.region": "60d" }, expect: /^drstack:rpo\.region: 60d is larger than drstack:recoveryWindow 30d/ },
        { name: "RPO too tight for WAL archiving", overrides: { "drstack:rpo.data-corruption": "20s" }, expect: /^drstack:rpo\.data-corruption: 20s cannot be met by WAL archiving; the minimum is 40s/ },
        { name: "recovery window under a day", overrides: { "drstack:recoveryWindow": "12h" }, expect: /^drstack:recoveryWindow: "12h" is too short; the minimum is 1d$/ },
        { name: "noncurrent retention shorter than the window", overrides: { "drstack:backupBucket.noncurrentVersionRetention": "7d" }, expect: /^drstack:backupBucket\.noncurrentVersionRetention: 7d is shorter than drstack:recoveryWindow 30d/ },
        { name: "archive expiring before it moves to cold storage", overrides: { "drstack:backupBucket.longTermArchive.retention": "20d" }, expect: /longTermArchive\.retention: 20d must be longer than transitionAfter 30d/ },
        { name: "unknown cold storage class", overrides: { "drstack:backupBucket.longTermArchive.storageClass": "TAPE" }, expect: /^drstack:backupBucket\.longTermArchive\.storageClass: "TAPE" is not allowed; allowed: GLACIER_IR, GLACIER, DEEP_ARCHIVE$/ },
        { name: "unknown Object Lock mode", overrides: { "drstack:backupBucket.objectLock.mode": "STRICT" }, expect: /^drstack:backupBucket\.objectLock\.mode: "STRICT" is not allowed; allowed: GOVERNANCE, COMPLIANCE$/ },
        { name: "prefix not usable in a bucket name", overrides: { "drstack:prefix": "Acme_Orders" }, expect: /^drstack:prefix: "Acme_Orders" must be 3-32 characters/ },
        { name: "boolean that is not a boolean", overrides: { "drstack:replication.enabled": "yes" }, expect: /^drstack:replication\.enabled: "yes" is not a boolean; use true or false$/ },
        { name: "misspelled top-level key", overrides: { "drstack:recoverWindow": "30d" }, expect: /^drstack:recoverWindow: unknown setting in drstack/ },
        { name: "misspelled nested key", overrides: { "drstack:backupBucket.objectLock.days": 3 }, expect: /^drstack:backupBucket\.objectLock\.days: unknown setting/ },
    ];
    for (const c of cases) {
        it(c.name, () => {
            const problems = problemsOf("primary", c.overrides);
            assert.ok(problems.some((p) => c.expect.test(p)), `no problem matched ${c.expect}:\n${problems.join("\n")}`);
        });
    }

    it("reports every schema problem at once, with the stack name", () => {
        try {
            parse("dr", { "drstack:role": "leader", "drstack:rpo.region": "soon" });
            assert.fail("accepted");
        } catch (error) {
            assert.ok(error instanceof ConfigError);
            assert.equal(error.problems.length, 2);
            assert.match(error.message, /^Invalid drstack configuration for stack "dr" \(nothing was deployed\):/);
        }
    });
});
