// Each named validation check of config/checks.ts on its own: it accepts the shipped settings and
// rejects its bad case naming the setting to change. Then the gaps each check or schema rule closes,
// through parseConfig, as a user meets them.
import { strict as assert } from "assert";
import { CHECKS, CheckContext, ConfigError, MIN_DATA_VOLUME, MIN_WAL_VOLUME, parseConfig, scheduleIntervals, Settings, schema } from "../../config";
import { unflatten } from "../../config/flat";
import { derivedNames } from "../../config/nameLimits";
import { iamRoleLogicalNames, NAME_LIMITS } from "../../model/naming";
import { runProgram, stackConfigWith } from "../support/program";
import { testTimeout } from "../support/timeouts";

/** The clock the checks are given: restore targets are judged against it. */
const NOW = Date.parse("2026-11-24T12:00:00Z");
const restore = (target: unknown, extra: Record<string, unknown> = {}) => ({ "drstack:restore": [{ name: "orders", target, source: "self", ...extra }] });

function settings(overrides: Record<string, unknown> = {}): Settings {
    return schema.parse(unflatten(stackConfigWith("primary", overrides)).values);
}

function ctxFor(s: Settings, isSecret = true): CheckContext {
    return { region: "us-east-1", isSecret: () => isSecret, intervals: scheduleIntervals(s), nowMs: NOW };
}

function problemsOf(overrides: Record<string, unknown>): string[] {
    try {
        parseConfig(stackConfigWith("primary", overrides), "primary");
    } catch (error) {
        assert.ok(error instanceof ConfigError, String(error));
        return error.problems;
    }
    assert.fail(`accepted ${JSON.stringify(overrides)}`);
}

describe("config checks, one rule each", () => {
    it("every check accepts the shipped primary stack", () => {
        const s = settings();
        for (const [name, check] of Object.entries(CHECKS)) {
            assert.deepEqual(check(s, ctxFor(s)), [], name);
        }
    });

    const cases: [keyof typeof CHECKS, Record<string, unknown>, string, boolean?][] = [
        ["peerRegionDiffers", { "drstack:peerRegion": "us-east-1" }, "drstack:peerRegion"],
        ["rpoWithinRecoveryWindow", { "drstack:rpo.region": "60d" }, "drstack:rpo.region"],
        ["rpoArchivable", { "drstack:rpo.data-corruption": "20s" }, "drstack:rpo.data-corruption"],
        ["noncurrentRetentionCoversWindow", { "drstack:backupBucket.noncurrentVersionRetention": "7d" }, "drstack:backupBucket.noncurrentVersionRetention"],
        ["longTermArchiveRetention", { "drstack:backupBucket.longTermArchive.retention": "20d" }, "drstack:backupBucket.longTermArchive.retention"],
        ["reservedPgParameters", { "drstack:postgres.parameters": { wal_level: "minimal" } }, "drstack:postgres.parameters.wal_level"],
        ["baseBackupsWithinWindow", { "drstack:backups.baseBackupSchedule": "0 0 2 1 1 *" }, "drstack:backups.baseBackupSchedule"],
        ["manageRolesRemoved", { "drstack:database.manageRoles": true }, "drstack:database.manageRoles"],
        ["grantsConnection", { "drstack:database.manageGrants": true, "drstack:database.host": undefined }, "drstack:database.host"],
        ["passwordIsSecret", { "drstack:databasePassword": "hunter2" }, "drstack:databasePassword", false],
        ["aliasNeedsZone", { "drstack:dns.endpointType": "alias" }, "drstack:dns.aliasZoneId"],
        ["emergencyFailoverOnPrimary", { "drstack:role": "standby", "drstack:emergencyFailover": true }, "drstack:emergencyFailover"],
        ["homeRegionInPair", { "drstack:homeRegion": "eu-west-1" }, "drstack:homeRegion"],
        ["promotionGeneration", { "drstack:homeRegion": "us-west-2" }, "drstack:promotion.generation"],
        ["emergencyFailoverTime", { "drstack:emergencyFailover": true }, "drstack:promotion.at"],
        ["notificationEndpoints", { "drstack:alerts.notify": [{ protocol: "sms", endpoint: "call-bob" }] }, "drstack:alerts.notify[0].endpoint"],
        ["notifySomeone", { "drstack:alerts.notify": [] }, "drstack:alerts.notify"],
        ["derivedNamesFit", { "drstack:prefix": "a".repeat(32) }, "drstack:prefix"],
        ["restoreTargetTimes", restore({ time: "2026-11-24T13:00:00Z" }), "drstack:restore[0].target.time"],
        ["restoreSourceExists", restore("latest", { source: "peer" }), "drstack:restore[0].source"],
        ["restoreNamesFit", { "drstack:restore": [{ name: "a", target: "latest", source: "self" }, { name: "a", target: "latest", source: "self" }] }, "drstack:restore[1].name"],
    ];
    for (const [check, overrides, key, secret] of cases) {
        it(`${check} rejects its case, naming ${key}`, () => {
            const s = settings(overrides);
            const problems = CHECKS[check](s, ctxFor(s, secret ?? true));
            assert.ok(problems.some((p) => p.key === key), JSON.stringify(problems));
        });
    }
});

describe("config gaps closed: each bad value is rejected by name", () => {
    const cases: { name: string; overrides: Record<string, unknown>; expect: RegExp }[] = [
        { name: "email that is not an address", overrides: { "drstack:alerts.notify": [{ protocol: "email", endpoint: "not-an-email" }] }, expect: /^drstack:alerts\.notify\[0\]\.endpoint: "not-an-email" is not a valid email endpoint; use an email address/ },
        { name: "blank email", overrides: { "drstack:alerts.notify": [{ protocol: "email", endpoint: " " }] }, expect: /^drstack:alerts\.notify\[0\]\.endpoint: " " is not a valid email endpoint/ },
        { name: "https endpoint with another scheme", overrides: { "drstack:alerts.notify": [{ protocol: "https", endpoint: "ftp://hooks.acme.example.com/x" }] }, expect: /^drstack:alerts\.notify\[0\]\.endpoint: "ftp:\/\/hooks\.acme\.example\.com\/x" is not a valid https endpoint; use an https:\/\/ URL/ },
        { name: "empty notify list", overrides: { "drstack:alerts.notify": [] }, expect: /^drstack:alerts\.notify is empty: the CloudWatch alarms would notify nobody.*drstack:alerts\.allowNoNotify: true/ },
        { name: "sms that is not a phone number", overrides: { "drstack:alerts.notify": [{ protocol: "sms", endpoint: "call-bob" }] }, expect: /^drstack:alerts\.notify\[0\]\.endpoint: "call-bob" is not a valid sms endpoint; use a phone number in E\.164 form/ },
        { name: "untagged PostgreSQL image", overrides: { "drstack:postgres.imageName": "ghcr.io/cloudnative-pg/postgresql" }, expect: /^drstack:postgres\.imageName: "ghcr\.io\/cloudnative-pg\/postgresql" must be pinned: a tag other than latest, or a digest/ },
        { name: "PostgreSQL image on latest", overrides: { "drstack:postgres.imageName": "ghcr.io/cloudnative-pg/postgresql:latest" }, expect: /^drstack:postgres\.imageName: ".*:latest" must be pinned/ },
        { name: "zero storage", overrides: { "drstack:postgres.storage.size": "0" }, expect: new RegExp(`^drstack:postgres\\.storage\\.size: is too small; the minimum is ${MIN_DATA_VOLUME}`) },
        { name: "tiny WAL volume", overrides: { "drstack:postgres.walStorage.size": "1Ki" }, expect: new RegExp(`^drstack:postgres\\.walStorage\\.size: is too small; the minimum is ${MIN_WAL_VOLUME} \\(PostgreSQL keeps up to max_wal_size`) },
        { name: "a 32-character prefix whose CronJob names exceed 52", overrides: { "drstack:prefix": "acme-orders-platform-team-eu-prd" }, expect: /^drstack:prefix: "acme-orders-platform-team-eu-prd" makes a CronJob of us-east-1 "pg-acme-orders-platform-team-eu-prd-use1-verify-physical" 56 characters long; its API allows 52/ },
        { name: "promotion time not UTC to the second", overrides: { "drstack:promotion.at": "2026-11-24 11:00" }, expect: /^drstack:promotion\.at: .*must be UTC to the second like 2026-11-24T11:00:00Z/ },
        { name: "negative rebuild generation", overrides: { "drstack:rebuildGeneration": -1 }, expect: /^drstack:rebuildGeneration: "?-1"? is not allowed; use a whole number from 0/ },
        { name: "wal_level set by hand points at postgres.walLevel", overrides: { "drstack:postgres.parameters": { wal_level: "minimal" } }, expect: /^drstack:postgres\.parameters\.wal_level: drstack sets wal_level itself \(use drstack:postgres\.walLevel \(replica or logical\)\); remove it here$/ },
    ];
    for (const c of cases) {
        it(c.name, () => {
            const problems = problemsOf(c.overrides);
            assert.ok(problems.some((p) => c.expect.test(p)), `no problem matched ${c.expect}:\n${problems.join("\n")}`);
        });
    }

    it("accepts pinned images, E.164 numbers and https endpoints", () => {
        const c = parseConfig(
            stackConfigWith("primary", {
                "drstack:postgres.imageName": "ghcr.io/cloudnative-pg/postgresql@sha256:" + "a".repeat(64),
                "drstack:alerts.notify": [{ protocol: "sms", endpoint: "+14155550100" }, { protocol: "https", endpoint: "https://hooks.acme.example.com/dr" }],
            }),
            "primary",
        );
        assert.equal(c.alerts.notify.length, 2);
    });

    it("accepts an empty notify list only with drstack:alerts.allowNoNotify: true", () => {
        const c = parseConfig(stackConfigWith("primary", { "drstack:alerts.notify": [], "drstack:alerts.allowNoNotify": true }), "primary");
        assert.deepEqual(c.alerts.notify, []);
    });

    it("checks every derived name of the longest accepted prefix against its API's limit", () => {
        const names = derivedNames("a".repeat(32), ["us-east-1", "ap-southeast-2"]);
        for (const limit of [NAME_LIMITS.s3Bucket, NAME_LIMITS.iamRole, NAME_LIMITS.cronJob, NAME_LIMITS.kubernetesLabelValue, NAME_LIMITS.kmsAlias]) {
            assert.ok(names.some((n) => n.limit === limit), `no name checked against ${limit}`);
        }
        // The shipped prefix fits everywhere; the longest a prefix may be is what the CronJob names leave.
        assert.deepEqual(derivedNames("acme-orders", ["us-east-1", "us-west-2"]).filter((n) => n.length > n.limit), []);
    });

    it("checks the IAM roles the program declares (auto-named from these logical names)", async () => {
        const run = await runProgram("primary");
        const declared = run.ofType("aws:iam/role:Role").map((r) => r.name);
        assert.deepEqual([...declared].sort(), [...iamRoleLogicalNames(parseConfig(stackConfigWith("primary"), "primary").prefix)].sort());
    }).timeout(testTimeout(60000));
});

describe("drstack:restore: targets, sources and names are checked before anything is declared", () => {
    // The restore cases change no schedule: the schedules' intervals (slow to compute) are worked out once.
    let intervals: ReturnType<typeof scheduleIntervals> | undefined;
    const restoreCtx = (s: Settings): CheckContext => ({ region: "us-east-1", isSecret: () => true, intervals: (intervals ??= scheduleIntervals(s)), nowMs: NOW });

    const timeProblems = (time: string, window?: string) => {
        const s = settings({ ...restore({ time }), ...(window ? { "drstack:recoveryWindow": window } : {}) });
        return CHECKS.restoreTargetTimes(s, restoreCtx(s)).map((p) => `${p.key}: ${p.text}`);
    };

    it("accepts a time with a zone inside the window, in any offset, and the other target kinds", () => {
        assert.deepEqual(timeProblems("2026-11-24T11:59:00Z"), []);
        assert.deepEqual(timeProblems("2026-11-24T12:30:00+01:00"), [], "11:30 UTC");
        assert.deepEqual(timeProblems("2026-10-26T12:00:00Z"), [], "29 days back in a 30d window");
        for (const target of ["latest", { lsn: "0/16B3748" }, { name: "before-migration", backupId: "20261124T020000" }]) {
            const s = settings(restore(target));
            assert.deepEqual(Object.values(CHECKS).flatMap((check) => check(s, restoreCtx(s))), [], JSON.stringify(target));
        }
    });
    it("rejects garbage, naming the setting and the allowed form", () => {
        assert.deepEqual(timeProblems("yesterday"), [
            'drstack:restore[0].target.time: "yesterday" is not an RFC 3339 timestamp; use e.g. 2026-11-24T09:41:00Z or 2026-11-24T10:41:00+01:00',
        ]);
        assert.match(timeProblems("2026-02-30T10:00:00Z")[0], /^drstack:restore\[0\]\.target\.time: "2026-02-30T10:00:00Z" is not a valid date and time/);
        assert.match(timeProblems("2026-11-24T25:00:00Z")[0], /is not a valid date and time/);
    });
    it("rejects a time without a zone, suggesting one", () => {
        assert.deepEqual(timeProblems("2026-11-24 11:00:00"), ['drstack:restore[0].target.time: "2026-11-24 11:00:00" has no time zone; add Z or an offset, e.g. 2026-11-24T11:00:00Z']);
    });
    it("rejects a time in the future, saying what now is", () => {
        assert.match(timeProblems("2026-11-24T12:00:01Z")[0], /"2026-11-24T12:00:01Z" is in the future \(now is 2026-11-24T12:00:00\.000Z\)/);
        assert.deepEqual(timeProblems("2026-11-24T12:30:00+00:30"), [], "12:00 UTC is now, not the future");
    });
    it("rejects a time older than the recovery window, naming the window and the oldest restorable time", () => {
        assert.deepEqual(timeProblems("2026-11-10T12:00:00Z", "7d"), [
            'drstack:restore[0].target.time: "2026-11-10T12:00:00Z" is older than the recovery window drstack:recoveryWindow 7d allows ' +
                "(the oldest restorable time is 2026-11-17T12:00:00.000Z, now is 2026-11-24T12:00:00.000Z); base backups and WAL before it are deleted",
        ]);
    });
    it("parseConfig takes the clock as a parameter (the seam the checks are judged with)", () => {
        const flat = stackConfigWith("primary", restore({ time: "2026-11-24T11:00:00Z" }));
        assert.equal(parseConfig(flat, "primary", () => false, NOW).restores[0].recoveryTarget?.targetTime, "2026-11-24T11:00:00Z");
        assert.throws(() => parseConfig(flat, "primary", () => false, Date.parse("2026-11-24T10:00:00Z")), /drstack:restore\[0\]\.target\.time: .* is in the future/);
    });
    it("a primary restores its own archive; a standby the primary's replicated archive", () => {
        const onPrimary = settings(restore("latest", { source: "peer" }));
        assert.match(CHECKS.restoreSourceExists(onPrimary, restoreCtx(onPrimary))[0].text, /^"peer" has no archive to restore from on a primary stack .* use "self"/);
        const standbySelf = settings({ ...restore("latest"), "drstack:role": "standby" });
        assert.match(CHECKS.restoreSourceExists(standbySelf, restoreCtx(standbySelf))[0].text, /^"self" is refused on a standby stack: .* use "peer": the primary's archive, replicated into backups-acme-orders-us-east-1$/);
        const standbyPeer = settings({ ...restore("latest", { source: "peer" }), "drstack:role": "standby" });
        assert.deepEqual(CHECKS.restoreSourceExists(standbyPeer, restoreCtx(standbyPeer)), []);
    });
    it("a promoted primary may restore the old primary's replicated archive (after a failover, the rows are only there)", () => {
        const promotedHome = settings({ ...restore("latest", { source: "peer" }), "drstack:promotion.generation": 2 });
        assert.deepEqual(CHECKS.restoreSourceExists(promotedHome, restoreCtx(promotedHome)), []);
        const dr = schema.parse(
            unflatten(stackConfigWith("dr", { ...restore("latest", { source: "peer" }), "drstack:role": "primary", "drstack:promotion.generation": 1 })).values,
        );
        assert.deepEqual(CHECKS.restoreSourceExists(dr, { ...restoreCtx(dr), region: "us-west-2" }), []);
    });
    it("rejects a name whose derived names exceed their API's limits", () => {
        const s = settings(restore("latest", { name: "n".repeat(40) }));
        const problems = CHECKS.restoreNamesFit(s, restoreCtx(s));
        assert.ok(problems.every((p) => p.key === "drstack:restore[0].name"));
        assert.match(problems[0].text, /makes the restored Cluster \(a label value\) "pg-acme-orders-use1-restore-n+" 68 characters long; its API allows 63: shorten the name by 5 or more/);
        assert.ok(problems.some((p) => /its recovery Job/.test(p.text)));
    });
    const schemaCases: { name: string; entry: Record<string, unknown>; expect: RegExp }[] = [
        { name: "a name that is not a DNS-1123 label", entry: { name: "Orders_1", target: "latest", source: "self" }, expect: /^drstack:restore\[0\]\.name: "Orders_1" must be lowercase letters, digits and hyphens/ },
        { name: "an unknown target", entry: { name: "x", target: "yesterday", source: "self" }, expect: /^drstack:restore\[0\]\.target: "yesterday" is not a restore target; use one of: latest; \{ time: /u },
        { name: "a malformed LSN", entry: { name: "x", target: { lsn: "16B3748" }, source: "self" }, expect: /^drstack:restore\[0\]\.target\.lsn: "16B3748" is not an LSN like 0\/16B3748$/ },
        { name: "a restore point without its base backup", entry: { name: "x", target: { name: "before-migration" }, source: "self" }, expect: /^drstack:restore\[0\]\.target: .*backupId: <base backup id taken before it/ },
        { name: "an unknown source", entry: { name: "x", target: "latest", source: "bucket" }, expect: /^drstack:restore\[0\]\.source: "bucket" is not allowed; allowed: self, peer/ },
        { name: "a missing source", entry: { name: "x", target: "latest" }, expect: /^drstack:restore\[0\]\.source is required/ },
    ];
    for (const c of schemaCases) {
        it(`rejects ${c.name}`, () => {
            const problems = problemsOf({ "drstack:restore": [c.entry] });
            assert.ok(problems.some((p) => c.expect.test(p)), `no problem matched ${c.expect}:\n${problems.join("\n")}`);
        });
    }
});
