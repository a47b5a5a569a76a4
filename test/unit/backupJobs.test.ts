// The backup CronJobs each stack declares: the scripts they run are the files in scripts/, with
// the environment scripts/README.md documents, on schedules from the stack config.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { SCRIPTS_DIR } from "../../components/backups/jobs";
import { minIntervalSeconds } from "../../model/schedule";
import { ProgramRun, runProgram, runProgramExpectingError } from "../support/program";
import { PROMOTE_DR } from "../support/promotion";

const CRONJOB = "kubernetes:batch/v1:CronJob";

/** The backup jobs (the fence check, test/unit/fencing.test.ts, shares their pod spec but not their settings). */
function backupCronJobs(run: ProgramRun) {
    return run.ofType(CRONJOB).filter((j) => j.inputs.metadata.labels["drstack.io/job"] !== "fence-check");
}

/** Variables scripts/README.md documents per script: name -> required. */
function documentedVariables(): Record<string, Map<string, boolean>> {
    const readme = fs.readFileSync(path.join(SCRIPTS_DIR, "README.md"), "utf8");
    const result: Record<string, Map<string, boolean>> = {};
    for (const section of readme.split(/^## /m).slice(1)) {
        const script = /^`([\w-]+)\.sh`/.exec(section)?.[1];
        if (!script) continue;
        const vars = new Map<string, boolean>();
        for (const row of section.matchAll(/^\| ((?:`[A-Z0-9_]+`(?:, )?)+) \| ([^|]+) \|/gm)) {
            for (const name of row[1].matchAll(/`([A-Z0-9_]+)`/g)) vars.set(name[1], /\*\*required\*\*/.test(row[2]));
        }
        result[script] = vars;
    }
    return result;
}

function job(run: ProgramRun, name: string) {
    const found = run.ofType(CRONJOB).find((j) => j.inputs.metadata.name === name);
    assert.ok(found, `no CronJob ${name}; declared: ${run.ofType(CRONJOB).map((j) => j.inputs.metadata.name)}`);
    return found.inputs;
}

function env(cronJob: any): Record<string, any> {
    const container = cronJob.spec.jobTemplate.spec.template.spec.containers[0];
    return Object.fromEntries(container.env.map((e: any) => [e.name, e.value ?? e.valueFrom]));
}

describe("backup CronJobs, primary stack", () => {
    let run: ProgramRun;
    before(async () => {
        run = await runProgram("primary");
    });

    it("declares the daily logical backup and the weekly logical and physical verifications", () => {
        assert.deepEqual(backupCronJobs(run).map((j) => j.inputs.metadata.name).sort(), [
            "pg-acme-orders-use1-logical-backup",
            "pg-acme-orders-use1-verify-logical",
            "pg-acme-orders-use1-verify-physical",
        ]);
        assert.equal(job(run, "pg-acme-orders-use1-logical-backup").spec.schedule, "15 3 * * *");
        assert.equal(job(run, "pg-acme-orders-use1-verify-physical").spec.schedule, "0 5 * * 0");
    });

    it("mounts the scripts from a ConfigMap built from the very files in scripts/", () => {
        const configMap = run.byName("acme-orders-backup-jobs-scripts").inputs;
        const files = fs.readdirSync(SCRIPTS_DIR).filter((f) => f.endsWith(".sh"));
        assert.ok(files.length >= 3);
        for (const file of files) {
            assert.equal(configMap.data[file], fs.readFileSync(path.join(SCRIPTS_DIR, file), "utf8"), `${file} differs from scripts/${file}`);
        }
        for (const name of ["logical-backup", "verify-logical", "verify-physical"]) {
            const pod = job(run, `pg-acme-orders-use1-${name}`).spec.jobTemplate.spec.template.spec;
            assert.deepEqual(pod.containers[0].command, ["/bin/sh", `/opt/drstack/scripts/${name}.sh`]);
            assert.equal(pod.volumes.find((v: any) => v.name === "scripts").configMap.name, configMap.metadata.name);
        }
    });

    it("never runs two at once, skips late starts, and ends a run well before the next is due", () => {
        for (const j of backupCronJobs(run).map((r) => r.inputs)) {
            assert.equal(j.spec.concurrencyPolicy, "Forbid");
            assert.equal(j.spec.timeZone, "Etc/UTC");
            assert.ok(j.spec.startingDeadlineSeconds > 0);
            const active = j.spec.jobTemplate.spec.activeDeadlineSeconds;
            assert.ok(active > 0 && active < minIntervalSeconds(j.spec.schedule), `${j.metadata.name}: activeDeadlineSeconds ${active}`);
            assert.ok(j.spec.jobTemplate.spec.backoffLimit >= 1);
            assert.ok(j.spec.failedJobsHistoryLimit >= j.spec.successfulJobsHistoryLimit, "failures stay visible");
        }
    });

    it("runs non-root with a read-only root filesystem, pinned image and resource requests", () => {
        for (const j of backupCronJobs(run).map((r) => r.inputs)) {
            const pod = j.spec.jobTemplate.spec.template.spec;
            const container = pod.containers[0];
            assert.equal(pod.securityContext.runAsNonRoot, true);
            assert.equal(container.securityContext.readOnlyRootFilesystem, true);
            assert.equal(container.securityContext.allowPrivilegeEscalation, false);
            assert.equal(container.image, "ghcr.io/acme/drstack-backup-jobs:1.0.0");
            assert.ok(container.resources.requests.cpu && container.resources.requests.memory);
            assert.equal(pod.volumes.find((v: any) => v.name === "scratch").emptyDir.sizeLimit, "20Gi");
            assert.equal(pod.serviceAccountName, "pg-acme-orders-use1-backup-jobs");
        }
    });

    it("sets exactly the environment scripts/README.md documents, every required variable included", () => {
        const documented = documentedVariables();
        const ambient = new Set(["AWS_DEFAULT_REGION", "TMPDIR", "PGSSLMODE"]);
        for (const script of ["logical-backup", "verify-logical", "verify-physical"]) {
            const vars = documented[script];
            assert.ok(vars && vars.size > 0, `scripts/README.md documents no variables for ${script}`);
            const set = env(job(run, `pg-acme-orders-use1-${script}`));
            for (const name of Object.keys(set)) {
                assert.ok(vars.has(name) || ambient.has(name), `${script}: sets ${name}, which scripts/README.md does not document`);
            }
            for (const [name, required] of vars) {
                if (required) assert.ok(name in set, `${script}: required ${name} is not set`);
            }
        }
    });

    it("backs up its own cluster's databases with the verification role's credentials from a Secret", () => {
        const e = env(job(run, "pg-acme-orders-use1-logical-backup"));
        assert.equal(e.CLUSTER_NAME, "pg-acme-orders-use1");
        assert.equal(e.BACKUP_DATABASES, "app");
        assert.equal(e.S3_BUCKET, "backups-acme-orders-us-east-1");
        assert.equal(e.PGHOST, "pg-acme-orders-use1-ro.databases.svc");
        assert.deepEqual(e.PGPASSWORD, { secretKeyRef: { name: "pg-acme-orders-use1-verification-credentials", key: "password" } });
    });

    it("verifies its own archive against the data-corruption RPO (plus the heartbeat interval)", () => {
        const e = env(job(run, "pg-acme-orders-use1-verify-physical"));
        assert.equal(e.BARMAN_DESTINATION, "s3://backups-acme-orders-us-east-1/");
        assert.equal(e.BARMAN_SERVER_NAME, "pg-acme-orders-use1");
        assert.equal(e.RPO_SECONDS, "330", "5m RPO + the 30s heartbeat: the recovery point is the newest commit");
    });

    it("reaches S3 through IRSA, allowed only the backup prefixes it needs", () => {
        const role = run.byName("acme-orders-backup-jobs-irsa");
        const [trust] = JSON.parse(role.inputs.assumeRolePolicy).Statement;
        assert.equal(trust.Condition.StringEquals["oidc.eks.us-east-1.amazonaws.com/id/EXAMPLEUSE1:sub"], "system:serviceaccount:databases:pg-acme-orders-use1-backup-jobs");
        const sa = run.ofType("kubernetes:core/v1:ServiceAccount")[0].inputs;
        assert.match(sa.metadata.annotations["eks.amazonaws.com/role-arn"], /role\/acme-orders-backup-jobs-irsa$/);
        const policy = JSON.parse(run.byName("acme-orders-backup-jobs-irsa-permissions").inputs.policy);
        const write = policy.Statement.find((s: any) => s.Sid === "WriteLogicalDumps");
        assert.equal(write.Resource, "arn:aws:s3:::backups-acme-orders-us-east-1/logical/pg-acme-orders-use1/*");
        assert.ok(policy.Statement.every((s: any) => s.Resource !== "*" && ![].concat(s.Action).some((a: string) => a.endsWith("*"))));
        assert.ok(!policy.Statement.some((s: any) => ([] as string[]).concat(s.Action).includes("s3:DeleteObject")), "the jobs never delete backups");
    });
});

describe("backup CronJobs, DR stack", () => {
    let run: ProgramRun;
    before(async () => {
        run = await runProgram("dr", {});
    });

    it("takes no logical backup (the database is read-only here) but verifies the replicated copy", () => {
        assert.deepEqual(backupCronJobs(run).map((j) => j.inputs.metadata.name).sort(), [
            "pg-acme-orders-usw2-verify-logical",
            "pg-acme-orders-usw2-verify-physical",
        ]);
        const e = env(job(run, "pg-acme-orders-usw2-verify-physical"));
        assert.equal(e.CLUSTER_NAME, "pg-acme-orders-use1", "the primary's backups, as replicated here");
        assert.equal(e.BARMAN_SERVER_NAME, "pg-acme-orders-use1");
        assert.equal(e.BARMAN_DESTINATION, "s3://backups-acme-orders-us-west-2/");
        assert.equal(e.RPO_SECONDS, "1230", "the log-shipping bound: 270s + 30s + 15m RTC, plus the 30s heartbeat");
        assert.equal(env(job(run, "pg-acme-orders-usw2-verify-logical")).S3_PREFIX, "logical/pg-acme-orders-use1/");
    });

    it("after promotion it backs up and verifies its own cluster", async () => {
        const promoted = await runProgram("dr", PROMOTE_DR, { peers: { "acme/drstack/primary": { role: "standby", backupBucket: "backups-acme-orders-us-east-1" } } });
        assert.equal(env(job(promoted, "pg-acme-orders-usw2-logical-backup")).CLUSTER_NAME, "pg-acme-orders-usw2");
        assert.equal(env(job(promoted, "pg-acme-orders-usw2-verify-physical")).BARMAN_SERVER_NAME, "pg-acme-orders-usw2");
    });
});

describe("backup CronJobs follow the config", () => {
    it("schedules, databases and application checks come from drstack:backups", async () => {
        const run = await runProgram("primary", {
            "drstack:backups.logicalBackupSchedule": "0 */6 * * *",
            "drstack:backups.databases": ["orders", "billing"],
            "drstack:backups.verifySql": "SELECT count(*) > 0, 'orders empty' FROM orders;",
        });
        const dump = job(run, "pg-acme-orders-use1-logical-backup");
        assert.equal(dump.spec.schedule, "0 */6 * * *");
        assert.ok(dump.spec.jobTemplate.spec.activeDeadlineSeconds < 6 * 3600);
        assert.equal(env(dump).BACKUP_DATABASES, "orders billing");
        assert.equal(env(job(run, "pg-acme-orders-use1-verify-logical")).VERIFY_SQL_FILE, "/opt/drstack/scripts/verify.sql");
        assert.equal(run.byName("acme-orders-backup-jobs-scripts").inputs.data["verify.sql"], "SELECT count(*) > 0, 'orders empty' FROM orders;");
    });

    for (const image of ["ghcr.io/acme/drstack-backup-jobs:latest", "ghcr.io/acme/drstack-backup-jobs"]) {
        it(`an unpinned job image (${image}) is rejected`, async () => {
            const { error, declared } = await runProgramExpectingError("primary", { "drstack:backups.jobImage": image });
            assert.match(error.message, /drstack:backups\.jobImage: .*must be pinned: a tag other than latest, or a digest/);
            assert.deepEqual(declared, []);
        });
    }
});

describe("IRSA listing is scoped to the clusters' prefixes", () => {
    /** Every s3:ListBucket grant of the IRSA roles' inline policies (S3's replication role is another matter: AWS requires it to list the source). */
    function listGrants(run: ProgramRun): { role: string; statement: any }[] {
        return run
            .ofType("aws:iam/rolePolicy:RolePolicy")
            .filter((p) => p.name.endsWith("-irsa-permissions"))
            .flatMap((p) => JSON.parse(p.inputs.policy).Statement.map((statement: any) => ({ role: p.name, statement })))
            .filter(({ statement }) => statement.Effect === "Allow" && [].concat(statement.Action).some((a: string) => a === "s3:ListBucket" || a === "s3:*"));
    }

    for (const [stack, source, own, options] of [
        ["primary", "pg-acme-orders-use1", "pg-acme-orders-use1", {}],
        ["dr", "pg-acme-orders-use1", "pg-acme-orders-usw2", {}],
    ] as const) {
        it(`${stack}: the jobs list only the prefixes of ${source}, whose backups they verify; no IRSA role lists without a prefix condition`, async () => {
            const run = await runProgram(stack, {}, options);
            const jobs = listGrants(run).find((g) => g.role === "acme-orders-backup-jobs-irsa-permissions")!;
            assert.deepEqual(jobs.statement.Condition, {
                // Verification results are keyed by the verifying region, then the verified cluster (static replication).
                StringLikeIfExists: { "s3:prefix": [`logical/${source}/*`, `${source}/*`, `verification/${own}/${source}/*`] },
            });
            assert.equal(listGrants(run).length, 3, "the cluster's, the jobs' and the fence check's IRSA roles");
            for (const { role, statement } of listGrants(run)) {
                const prefixes: string[] = statement.Condition?.StringLikeIfExists?.["s3:prefix"] ?? statement.Condition?.StringLike?.["s3:prefix"] ?? [];
                assert.ok(prefixes.length > 0, `${role} (${statement.Sid}) may list the bucket without a prefix condition`);
                assert.ok(prefixes.every((p) => /^[a-z0-9-]+\/([a-z0-9-]+\/){0,2}\*$|^fence\/[a-z0-9-]+\.json$/.test(p) && p !== "*"), `${role}: ${prefixes}`);
            }
        });
    }
});
