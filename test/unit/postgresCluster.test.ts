// The PostgreSQL tier: CloudNativePG clusters in a distributed topology, WAL archiving whose
// archive_timeout follows the RPO, promotion by switching drstack:role, the split-brain guard,
// the switchover token, database roles whose passwords never appear in plaintext.
import { strict as assert } from "assert";
import { specialSecretSig, specialSigKey } from "@pulumi/pulumi/runtime/rpc";
import { parseConfig, readStackConfig } from "../../config";
import { CHARTS } from "../../components/postgres/operators";
import { mockPassword } from "../support/mocks";
import { ProgramRun, runProgram, runProgramExpectingError, Secret } from "../support/program";
import { EMERGENCY_DR, PROMOTE_DR } from "../support/promotion";

const T = {
    cluster: "kubernetes:postgresql.cnpg.io/v1:Cluster",
    objectStore: "kubernetes:barmancloud.cnpg.io/v1:ObjectStore",
    scheduledBackup: "kubernetes:postgresql.cnpg.io/v1:ScheduledBackup",
    release: "kubernetes:helm.sh/v3:Release",
    role: "postgresql:index/role:Role",
    grant: "postgresql:index/grant:Grant",
    password: "random:index/randomPassword:RandomPassword",
    secret: "kubernetes:core/v1:Secret",
    namespace: "kubernetes:core/v1:Namespace",
    stackReference: "pulumi:pulumi:StackReference",
};
const USE1 = "pg-acme-orders-use1";
const USW2 = "pg-acme-orders-usw2";
const PRIMARY_DEMOTED = { "acme/drstack/primary": { role: "standby", demotionToken: "eyJsc24iOiIwLzVBMDAwMEEwIn0=", backupBucket: "backups-acme-orders-us-east-1" } };

function clusterSpec(run: ProgramRun) {
    return run.one(T.cluster).inputs.spec;
}

function store(run: ProgramRun, name: string) {
    const found = run.ofType(T.objectStore).find((r) => r.inputs.metadata.name === name);
    assert.ok(found, `no ObjectStore ${name}`);
    return found.inputs.spec;
}

function irsaStatement(run: ProgramRun, sid: string) {
    const policy = JSON.parse(run.byName("acme-orders-postgres-irsa-permissions").inputs.policy);
    return policy.Statement.find((s: any) => s.Sid === sid);
}

describe("PostgreSQL tier, primary stack", () => {
    let run: ProgramRun;
    before(async () => {
        run = await runProgram("primary");
    });

    it("declares a CloudNativePG cluster named for its region in the configured namespace", () => {
        const cluster = run.one(T.cluster).inputs;
        assert.equal(cluster.metadata.name, USE1);
        assert.equal(cluster.metadata.namespace, "databases");
        assert.equal(run.one(T.namespace).inputs.metadata.name, "databases");
        assert.equal(cluster.spec.instances, 3);
        assert.equal(cluster.spec.imageName, "ghcr.io/cloudnative-pg/postgresql:16.6");
        assert.deepEqual(cluster.spec.storage, { size: "50Gi", storageClass: "gp3" });
        assert.deepEqual(cluster.spec.walStorage, { size: "10Gi", storageClass: "gp3" });
        assert.deepEqual(cluster.spec.resources, { requests: { cpu: "1", memory: "2Gi" }, limits: { memory: "2Gi" } });
    });

    it("archives WAL with archive_timeout derived from its RPO (5m RPO - 30s upload = 270s)", () => {
        const config = parseConfig(readStackConfig("primary"), "primary");
        const parameters = clusterSpec(run).postgresql.parameters;
        assert.equal(parameters.archive_timeout, config.wal.archiveTimeout);
        assert.equal(parameters.archive_timeout, "270s");
        assert.ok(parseInt(parameters.archive_timeout, 10) + config.walUploadAllowanceSeconds <= config.rpo.dataCorruptionSeconds);
        assert.equal(parameters.wal_level, "logical");
        assert.equal(parameters.max_slot_wal_keep_size, "10GB");
    });

    it("archives through the Barman Cloud plugin into its own prefix of this region's bucket", () => {
        const [plugin] = clusterSpec(run).plugins;
        assert.deepEqual(plugin, {
            name: "barman-cloud.cloudnative-pg.io",
            isWALArchiver: true,
            parameters: { barmanObjectName: `${USE1}-archive`, serverName: USE1 },
        });
        const own = store(run, `${USE1}-archive`);
        assert.equal(own.configuration.destinationPath, "s3://backups-acme-orders-us-east-1/");
        assert.deepEqual(own.configuration.s3Credentials, { inheritFromIAMRole: true });
        // No encryption header: the bucket default (SSE-KMS with the bucket's CMK) applies; `aws:kms` alone means aws/s3.
        assert.deepEqual(own.configuration.wal, { compression: "gzip", maxParallel: 4 });
        assert.equal("encryption" in own.configuration.data, false);
        assert.equal(own.retentionPolicy, "30d", "retention equals the recovery window");
    });

    it("is the primary of the distributed topology, created by initdb with data checksums", () => {
        const spec = clusterSpec(run);
        assert.deepEqual(spec.replica, { self: USE1, primary: USE1, source: USW2 });
        assert.deepEqual(spec.bootstrap, { initdb: { database: "app", owner: "app", dataChecksums: true } });
        assert.deepEqual(spec.externalClusters.map((c: any) => c.name), [USE1, USW2]);
        assert.equal(run.outputs.primaryCluster, USE1);
    });

    it("takes scheduled base backups through the plugin", () => {
        const backup = run.one(T.scheduledBackup).inputs.spec;
        assert.equal(backup.schedule, "0 0 2 * * *");
        assert.deepEqual(backup.cluster, { name: USE1 });
        assert.equal(backup.method, "plugin");
        assert.deepEqual(backup.pluginConfiguration, { name: "barman-cloud.cloudnative-pg.io" });
        assert.deepEqual(run.one(T.scheduledBackup).dependsOn, ["acme-orders-postgres-cluster"]);
    });

    it("binds the cluster's service account to an IAM role (IRSA) only that service account may assume", () => {
        const role = run.byName("acme-orders-postgres-irsa");
        const [trust] = JSON.parse(role.inputs.assumeRolePolicy).Statement;
        assert.equal(trust.Action, "sts:AssumeRoleWithWebIdentity");
        assert.equal(trust.Principal.Federated, "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/EXAMPLEUSE1");
        assert.deepEqual(trust.Condition.StringEquals, {
            "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLEUSE1:sub": `system:serviceaccount:databases:${USE1}`,
            "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLEUSE1:aud": "sts.amazonaws.com",
        });
        const annotations = clusterSpec(run).serviceAccountTemplate.metadata.annotations;
        assert.equal(annotations["eks.amazonaws.com/role-arn"], `arn:aws:iam::111122223333:role/${role.name}`);
    });

    it("lets the cluster write only its own prefix and read only the peer's replicated prefix", () => {
        const write = irsaStatement(run, "WriteOwnArchive");
        assert.equal(write.Resource, `arn:aws:s3:::backups-acme-orders-us-east-1/${USE1}/*`);
        assert.deepEqual(write.Action, ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"]);
        const read = irsaStatement(run, "ReadPeerReplicatedArchive");
        assert.equal(read.Action, "s3:GetObject");
        assert.equal(read.Resource, `arn:aws:s3:::backups-acme-orders-us-east-1/${USW2}/*`);
        // Exactly the two clusters' prefixes; IfExists only for HeadBucket (components/irsa.ts).
        assert.deepEqual(irsaStatement(run, "ListOwnAndPeerArchive").Condition, { StringLikeIfExists: { "s3:prefix": [`${USE1}/*`, `${USW2}/*`] } });
        const kms = irsaStatement(run, "UseBucketKeyViaS3");
        assert.equal(kms.Condition.StringEquals["kms:ViaService"], "s3.us-east-1.amazonaws.com");
        const policy = JSON.parse(run.byName("acme-orders-postgres-irsa-permissions").inputs.policy);
        assert.ok(policy.Statement.every((s: any) => s.Resource !== "*" && ![].concat(s.Action).some((a: string) => a.endsWith("*"))));
    });

    it("installs the operator and the Barman Cloud plugin as pinned Helm releases, plugin after operator", () => {
        const releases = run.ofType(T.release);
        const operator = releases.find((r) => r.inputs.chart === "cloudnative-pg")!;
        const plugin = releases.find((r) => r.inputs.chart === "plugin-barman-cloud")!;
        assert.equal(operator.inputs.version, CHARTS.operator.version);
        assert.equal(plugin.inputs.version, CHARTS.barmanCloudPlugin.version);
        assert.match(operator.inputs.version, /^\d+\.\d+\.\d+$/);
        assert.equal(operator.inputs.repositoryOpts.repo, "https://cloudnative-pg.github.io/charts");
        assert.equal(plugin.inputs.namespace, operator.inputs.namespace);
        assert.deepEqual(plugin.dependsOn, [operator.name]);
        assert.deepEqual(run.byName("acme-orders-postgres").dependsOn, ["acme-orders-operators"]);
    });

    it("checks its peer stack before declaring anything, and exports its role for the peer", () => {
        assert.equal(run.one(T.stackReference).inputs.name, "acme/drstack/dr");
        assert.equal(run.outputs.role, "primary");
        assert.equal(run.outputs.promotedWith, "none");
    });
});

describe("PostgreSQL tier, DR stack (warm standby)", () => {
    let run: ProgramRun;
    before(async () => {
        run = await runProgram("dr", {});
    });

    it("is a replica cluster of the primary region's cluster (both stacks name the same primary)", () => {
        const spec = clusterSpec(run);
        assert.equal(run.one(T.cluster).inputs.metadata.name, USW2);
        assert.deepEqual(spec.replica, { self: USW2, primary: USE1, source: USE1 });
    });

    it("bootstraps from the primary's WAL archive as replicated into this region's bucket", () => {
        const spec = clusterSpec(run);
        assert.deepEqual(spec.bootstrap, { recovery: { source: USE1, database: "app", owner: "app" } });
        const source = spec.externalClusters.find((c: any) => c.name === USE1);
        assert.deepEqual(source.plugin.parameters, { barmanObjectName: `${USE1}-replicated-archive`, serverName: USE1 });
        assert.equal(store(run, `${USE1}-replicated-archive`).configuration.destinationPath, "s3://backups-acme-orders-us-west-2/");
    });

    it("without drstack:streaming it only restores from the archive", async () => {
        const archiveOnly = await runProgram("dr", { "drstack:streaming": undefined });
        const source = clusterSpec(archiveOnly).externalClusters.find((c: any) => c.name === USE1);
        assert.equal(source.connectionParameters, undefined, "no streaming unless configured");
        assert.equal(clusterSpec(archiveOnly).certificates, undefined, "no extra server name to certify");
    });

    it("archives its own WAL into its own bucket under its own name (continues after promotion)", () => {
        assert.deepEqual(clusterSpec(run).plugins[0].parameters, { barmanObjectName: `${USW2}-archive`, serverName: USW2 });
        assert.equal(store(run, `${USW2}-archive`).configuration.destinationPath, "s3://backups-acme-orders-us-west-2/");
    });

    it("streams from the primary too when a connection is configured (certificate auth)", async () => {
        const streaming = await runProgram(
            "dr",
            { "drstack:streaming": { host: "pg-acme-orders-use1-rw.use1.internal", tlsSecretName: "use1-streaming-replica" } },
            {},
        );
        const source = clusterSpec(streaming).externalClusters.find((c: any) => c.name === USE1);
        assert.deepEqual(source.connectionParameters, {
            host: "pg-acme-orders-use1-rw.use1.internal",
            port: "5432",
            user: "streaming_replica",
            dbname: "postgres",
            sslmode: "verify-full",
        });
        assert.deepEqual(source.sslKey, { name: "use1-streaming-replica", key: "tls.key" });
        assert.ok(source.plugin, "the archive stays as the fallback");
    });

    it("certifies the name the peer streams from (advertisedHost) for the peer's verify-full", async () => {
        const run = await runProgram("dr", { "drstack:streaming.advertisedHost": "pg-usw2.example.internal" });
        assert.deepEqual(clusterSpec(run).certificates, { serverAltDNSNames: ["pg-usw2.example.internal"] });
    });
});

describe("promotion by switching drstack:role", () => {
    it("emergency failover: refused while the peer still reports primary, with the exact commands", async () => {
        const { error, declared } = await runProgramExpectingError("dr", PROMOTE_DR);
        assert.equal(error.name, "SplitBrainError");
        assert.match(error.message, /Refusing to make stack "dr" primary: its peer stack acme\/drstack\/primary still reports role "primary"/);
        assert.match(error.message, /pulumi config set drstack:emergencyFailover true -s dr && pulumi up -s dr/);
        assert.match(error.message, /pulumi config set drstack:role standby -s acme\/drstack\/primary && pulumi up -s acme\/drstack\/primary/);
        assert.deepEqual(declared, [], "nothing is created");
    });

    it("emergency failover: confirmed, the replica cluster is promoted without a token", async () => {
        const run = await runProgram("dr", EMERGENCY_DR);
        assert.deepEqual(clusterSpec(run).replica, { self: USW2, primary: USW2, source: USE1 });
        assert.equal(run.outputs.promotedWith, "emergency failover");
        assert.equal(clusterSpec(run).plugins[0].parameters.serverName, USW2, "archiving continues into its own bucket");
    });

    it("the old primary coming back after a failover cannot become primary again by accident", async () => {
        const { error } = await runProgramExpectingError("primary", {}, { peers: { "acme/drstack/dr": { role: "primary" } } });
        assert.match(error.message, /Refusing to make stack "primary" primary: its peer stack acme\/drstack\/dr still reports role "primary"/);
    });

    it("planned switchover, step 1: demoting the primary stack makes its cluster follow the DR cluster", async () => {
        const run = await runProgram("primary", { "drstack:role": "standby" });
        assert.deepEqual(clusterSpec(run).replica, { self: USE1, primary: USW2, source: USW2 });
        assert.equal(run.outputs.role, "standby");
        assert.ok("demotionToken" in run.outputs, "the demotion token is a stack output");
    });

    it("planned switchover, step 2: the DR stack promotes with the peer's demotion token", async () => {
        const run = await runProgram("dr", PROMOTE_DR, { peers: PRIMARY_DEMOTED });
        assert.deepEqual(clusterSpec(run).replica, {
            self: USW2,
            primary: USW2,
            source: USE1,
            promotionToken: PRIMARY_DEMOTED["acme/drstack/primary"].demotionToken,
        });
        assert.equal(run.outputs.promotedWith, "promotion token (planned switchover)");
    });

    it("a promotion must take a generation above the peer's, or the peer's fence marker would fence it", async () => {
        const { error, declared } = await runProgramExpectingError("primary", {}, { peers: { "acme/drstack/dr": { role: "standby", promotionGeneration: 1 } } });
        assert.match(error.message, /Refusing to make stack "primary" primary with drstack:promotion\.generation 0: its peer stack acme\/drstack\/dr is at generation 1/);
        assert.match(error.message, /pulumi config set --path drstack:promotion\.generation 2 -s primary && pulumi up -s primary/);
        assert.deepEqual(declared, []);
        // The first state: home primary and a never-promoted peer, both at 0.
        await runProgram("primary", {}, { peers: { "acme/drstack/dr": { role: "standby", promotionGeneration: 0 } } });
    });

    it("a role flip alone never changes spec.bootstrap, in either stack", async () => {
        for (const [stack, flipped, peers] of [
            ["dr", PROMOTE_DR, PRIMARY_DEMOTED],
            ["primary", { "drstack:role": "standby" }, undefined],
        ] as const) {
            const before = clusterSpec(await runProgram(stack, {}, {})).bootstrap;
            const after = clusterSpec(await runProgram(stack, flipped, peers ? { peers } : {})).bootstrap;
            assert.deepEqual(after, before, stack);
        }
    });

    it("the Cluster is replaced (deleted first: fixed name) when its bootstrap or rebuild generation changes; nothing is ignored", async () => {
        const cluster = (await runProgram("primary")).one(T.cluster);
        assert.deepEqual(cluster.ignoreChanges, [], "an ignored bootstrap would keep its old value on replace");
        assert.deepEqual(cluster.replaceOnChanges, ["spec.bootstrap", 'metadata.annotations["drstack.io/rebuild-generation"]']);
        assert.equal(cluster.deleteBeforeReplace, true);
        assert.equal(cluster.inputs.metadata.annotations["drstack.io/rebuild-generation"], "0");
    });

    it("failback: a rebuild generation recreates the old primary as a replica recovering from the new primary's archive in its own bucket", async () => {
        const run = await runProgram("primary", { "drstack:role": "standby", "drstack:rebuildGeneration": 1 });
        const cluster = run.one(T.cluster).inputs;
        assert.equal(cluster.metadata.annotations["drstack.io/rebuild-generation"], "1");
        const spec = cluster.spec;
        assert.deepEqual(spec.bootstrap, { recovery: { source: USW2, database: "app", owner: "app" } });
        const source = spec.externalClusters.find((e: any) => e.name === spec.bootstrap.recovery.source);
        assert.equal(source.plugin.name, "barman-cloud.cloudnative-pg.io");
        assert.equal(source.plugin.parameters.serverName, USW2, "the new primary's barman server name");
        const store = run.ofType(T.objectStore).find((o) => o.inputs.metadata.name === source.plugin.parameters.barmanObjectName);
        assert.ok(store, "the external cluster reads an ObjectStore this stack declares");
        assert.equal(store.inputs.spec.configuration.destinationPath, "s3://backups-acme-orders-us-east-1/", "the stack's OWN bucket (the replicated copy)");
        assert.deepEqual(spec.replica, { self: USE1, primary: USW2, source: USW2 });
        // Promoting it back later keeps the recovery bootstrap: no second replacement.
        const back = await runProgram("primary", { "drstack:rebuildGeneration": 1, "drstack:promotion.generation": 2 }, { peers: { "acme/drstack/dr": { role: "standby", promotionGeneration: 1 } } });
        assert.deepEqual(clusterSpec(back).bootstrap, spec.bootstrap);
    });
});

describe("operators can be left to the platform team", () => {
    it("installOperators: false declares no Helm release", async () => {
        const run = await runProgram("primary", { "drstack:kubernetes.installOperators": false, "drstack:kubernetes.createNamespace": false });
        assert.equal(run.ofType(T.release).length, 0);
        assert.equal(run.ofType(T.namespace).length, 0);
        assert.equal(run.one(T.cluster).inputs.metadata.namespace, "databases");
    });
});

/** Paths in `value` where `needle` appears outside a Pulumi secret. */
function plaintextPaths(value: unknown, needle: string, path = "$"): string[] {
    if (typeof value === "string") {
        return value.includes(needle) ? [path] : [];
    }
    if (value === null || typeof value !== "object") {
        return [];
    }
    if ((value as Record<string, unknown>)[specialSigKey] === specialSecretSig) {
        return [];
    }
    return Object.entries(value).flatMap(([k, v]) => plaintextPaths(v, needle, `${path}.${k}`));
}

describe("database roles and their secrets", () => {
    const ADMIN_PASSWORD = "admin-password-from-config";
    const SECRETS = { monitoring: `${USE1}-monitoring-credentials`, verification: `${USE1}-verification-credentials` };
    let run: ProgramRun;
    let withGrants: ProgramRun;
    before(async () => {
        run = await runProgram("primary");
        withGrants = await runProgram("primary", {
            "drstack:database": { manageGrants: true, host: "pg-acme-orders-use1-rw.example.internal" },
            "drstack:databasePassword": Secret(ADMIN_PASSWORD),
        });
    });

    it("a default deploy declares the jobs' roles as CloudNativePG managed roles, with no database connection", () => {
        assert.deepEqual(clusterSpec(run).managed.roles, [
            { name: "drstack_monitor", ensure: "present", login: true, inRoles: ["pg_monitor"], connectionLimit: 5, passwordSecret: { name: SECRETS.monitoring } },
            { name: "drstack_verifier", ensure: "present", login: true, inRoles: ["pg_read_all_data"], connectionLimit: 5, passwordSecret: { name: SECRETS.verification } },
        ]);
        assert.equal(run.ofType(T.password).length, 2);
        assert.equal(run.ofType(T.role).length, 0);
        assert.equal(run.ofType("pulumi:providers:postgresql").length, 0);
    });

    it("keeps each password in a basic-auth Secret CloudNativePG reloads, named by the contract", () => {
        const secrets = run.ofType(T.secret);
        assert.deepEqual(secrets.map((s) => s.inputs.metadata.name).sort(), [SECRETS.monitoring, SECRETS.verification]);
        for (const s of secrets) {
            assert.equal(s.inputs.type, "kubernetes.io/basic-auth");
            assert.deepEqual(s.inputs.metadata.labels, { "cnpg.io/reload": "true" });
            // The whole stringData is a secret (it holds the password): unwrap it to read the keys.
            assert.equal(s.inputs.stringData[specialSigKey], specialSecretSig);
            assert.deepEqual(Object.keys(s.inputs.stringData.value).sort(), ["password", "username"]);
        }
        assert.deepEqual(run.outputs.databaseRoleSecrets, SECRETS);
    });

    it("the standby declares the same roles and its own Secrets (used after a promotion)", async () => {
        const dr = await runProgram("dr", {});
        assert.deepEqual(
            dr.one(T.cluster).inputs.spec.managed.roles.map((r: any) => [r.name, r.passwordSecret.name]),
            [["drstack_monitor", `${USW2}-monitoring-credentials`], ["drstack_verifier", `${USW2}-verification-credentials`]],
        );
        assert.equal(dr.ofType(T.password).length, 2);
    });

    it("never puts a password in plaintext into any resource input or stack output", () => {
        const needles = [ADMIN_PASSWORD, mockPassword("acme-orders-roles-monitoring-password"), mockPassword("acme-orders-roles-verification-password")];
        let seenAsSecret = 0;
        for (const needle of needles) {
            for (const r of withGrants.resources) {
                assert.deepEqual(plaintextPaths(r.inputs, needle), [], `${needle} in plaintext in ${r.type} ${r.name}`);
                if (JSON.stringify(r.inputs).includes(needle)) seenAsSecret++;
            }
            assert.ok(!JSON.stringify(withGrants.outputs).includes(needle), `${needle} in a stack output`);
        }
        assert.ok(seenAsSecret >= 3, `passwords must reach the provider and the Secrets (as secrets); seen ${seenAsSecret} times`);
    });

    it("drstack:database.manageGrants grants CONNECT on the backed-up databases over a connection from the config", () => {
        const provider = withGrants.one("pulumi:providers:postgresql").inputs;
        assert.equal(provider.host, "pg-acme-orders-use1-rw.example.internal");
        assert.equal(provider.sslmode, "require");
        assert.deepEqual(
            withGrants.ofType(T.grant).map((g) => g.inputs),
            [{ database: "app", role: "drstack_verifier", objectType: "database", privileges: ["CONNECT"] }],
        );
        assert.equal(run.ofType(T.grant).length, 0);
    });

    it("a standby stack grants nothing (grants replicate from the primary)", async () => {
        const dr = await runProgram("dr", { "drstack:database": { manageGrants: true, host: "x" }, "drstack:databasePassword": Secret("p") });
        assert.equal(dr.ofType(T.grant).length, 0);
    });
});

describe("PostgreSQL tier: bad values fail clearly, declaring nothing", () => {
    const cases: [string, Record<string, unknown>, RegExp][] = [
        ["instances < 1", { "drstack:postgres.instances": 0 }, /drstack:postgres\.instances: 0 is not allowed; use a whole number from 1 to 9/],
        ["storage size not a quantity", { "drstack:postgres.storage.size": "lots" }, /drstack:postgres\.storage\.size: "lots" is not a Kubernetes quantity like 50Gi/],
        ["schedule not a cron", { "drstack:backups.baseBackupSchedule": "daily" }, /drstack:backups\.baseBackupSchedule: "daily" has 1 fields; a CloudNativePG schedule \(seconds first\) needs 6/],
        ["5-field schedule where CloudNativePG needs 6", { "drstack:backups.baseBackupSchedule": "0 2 * * *" }, /"0 2 \* \* \*" has 5 fields/],
        ["out-of-range cron field", { "drstack:backups.logicalBackupSchedule": "61 3 * * *" }, /drstack:backups\.logicalBackupSchedule: "61 3 \* \* \*" is not a valid cron schedule/],
        ["base backups rarer than the recovery window", { "drstack:backups.baseBackupSchedule": "0 0 2 1 */2 *" }, /between base backups, more than drstack:recoveryWindow 30d/],
        ["hand-set archive_timeout", { "drstack:postgres.parameters": { archive_timeout: "1h" } }, /drstack:postgres\.parameters\.archive_timeout: drstack sets archive_timeout itself/],
        ["bad OIDC provider", { "drstack:kubernetes.oidcProviderArn": "oidc.eks.us-east-1.amazonaws.com" }, /drstack:kubernetes\.oidcProviderArn: "oidc\.eks\.us-east-1\.amazonaws\.com" is not an IAM OIDC provider ARN/],
        ["grants without a host", { "drstack:database.manageGrants": true, "drstack:databasePassword": Secret("p") }, /drstack:database\.host is required when drstack:database\.manageGrants is true/],
        ["the removed manageRoles", { "drstack:database.manageRoles": true }, /drstack:database\.manageRoles is no longer a setting: .*CloudNativePG managed roles.*drstack:database\.manageGrants/],
        ["plaintext database password", { "drstack:databasePassword": "hunter2" }, /drstack:databasePassword is stored in plaintext; .*pulumi config set --secret drstack:databasePassword/],
        ["emergency failover on a standby", { "drstack:role": "standby", "drstack:emergencyFailover": true }, /drstack:emergencyFailover: true only makes sense with drstack:role: primary/],
    ];
    for (const [name, overrides, expected] of cases) {
        it(name, async () => {
            const { error, declared } = await runProgramExpectingError("primary", overrides);
            assert.match(error.message, expected);
            assert.deepEqual(declared, []);
        });
    }
});
