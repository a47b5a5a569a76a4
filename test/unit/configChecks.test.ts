// Each named validation check of config/checks.ts on its own: it accepts the shipped settings and
// rejects its bad case naming the setting to change. Then the gaps each check or schema rule closes,
// through parseConfig, as a user meets them.
import { strict as assert } from "assert";
import { CHECKS, CheckContext, ConfigError, MIN_DATA_VOLUME, MIN_WAL_VOLUME, parseConfig, scheduleIntervals, Settings, schema } from "../../config";
import { unflatten } from "../../config/flat";
import { derivedNames } from "../../config/nameLimits";
import { iamRoleLogicalNames, NAME_LIMITS } from "../../model/naming";
import { runProgram, stackConfigWith } from "../support/program";


function settings(overrides: Record<string, unknown> = {}): Settings {
    return schema.parse(unflatten(stackConfigWith("primary", overrides)).values);
}

function ctxFor(s: Settings, isSecret = true): CheckContext {
    return { region: "us-east-1", isSecret: () => isSecret, intervals: scheduleIntervals(s) };
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
        ["managedRolesConnection", { "drstack:database.manageRoles": true, "drstack:database.host": undefined }, "drstack:database.host"],
        ["passwordIsSecret", { "drstack:databasePassword": "hunter2" }, "drstack:databasePassword", false],
        ["aliasNeedsZone", { "drstack:dns.endpointType": "alias" }, "drstack:dns.aliasZoneId"],
        ["emergencyFailoverOnPrimary", { "drstack:role": "standby", "drstack:emergencyFailover": true }, "drstack:emergencyFailover"],
        ["notificationEndpoints", { "drstack:alerts.notify": [{ protocol: "sms", endpoint: "call-bob" }] }, "drstack:alerts.notify[0].endpoint"],
        ["notifySomeone", { "drstack:alerts.notify": [] }, "drstack:alerts.notify"],
        ["derivedNamesFit", { "drstack:prefix": "a".repeat(32) }, "drstack:prefix"],
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
    }).timeout(60000);
});
