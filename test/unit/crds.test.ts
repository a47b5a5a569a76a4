// Every custom resource the program declares, checked against the CRDs of the operator releases
// the stack pins (vendor/crds/, see its README): the API server prunes a field its schema does
// not know, silently, so a misspelt field here is a setting that never takes effect.
import { strict as assert } from "assert";
import { DATA_COMPRESSIONS, WAL_COMPRESSIONS } from "../../config/schema";
import { readStackConfig } from "../../config/stackFile";
import { CrdValidator } from "../../tools/crds";
import { Declared, Overrides, ProgramRun, RunOptions, runProgram, Secret } from "../support/program";
import { PROMOTE_DR } from "../support/promotion";
import { testTimeout } from "../support/timeouts";

const CLUSTER = "kubernetes:postgresql.cnpg.io/v1:Cluster";
/** The kinds the shipped stacks declare: the test fails if one disappears unnoticed. */
const EXPECTED_KINDS = ["Cluster", "ObjectStore", "ScheduledBackup", "PrometheusRule", "PodMonitor"];
/** The dr stack's peer (Pulumi.dr.yaml drstack:peerStack) after a planned demotion: it publishes its token. */
const PRIMARY_DEMOTED = { [readStackConfig("dr")["drstack:peerStack"]]: { role: "standby", demotionToken: "demotion-token-of-the-old-primary", backupBucket: "backups-acme-orders-us-east-1" } };

/**
 * A Kubernetes resource whose API group is not built into Kubernetes, i.e. one served by a CRD.
 * Type tokens are `kubernetes:<group>/<version>:<Kind>`; built-in groups are `core`, dotless
 * (`apps`, `batch`, `policy`, ...) or `*.k8s.io`; `helm.sh` is the provider's own Release.
 */
function isCustomResource(r: Declared): boolean {
    const match = /^kubernetes:([^/]+)\/[^:]+:/.exec(r.type);
    if (!match) return false;
    const group = match[1];
    return group.includes(".") && !group.endsWith(".k8s.io") && group !== "helm.sh";
}

interface Variant {
    title: string;
    stack: string;
    overrides?: Overrides;
    options?: RunOptions;
    /** Cluster fields the variant exists to exercise: checked present, so the variant cannot silently stop covering them. */
    clusterFields?: string[];
}

/** The shipped stacks, plus configurations that turn optional fields on. */
const VARIANTS: Variant[] = [
    { title: "primary stack as shipped", stack: "primary" },
    { title: "dr stack as shipped", stack: "dr", options: {} },
    {
        title: "primary with streaming, managed grants, a given Pushgateway, xz WAL and snappy base backups",
        stack: "primary",
        overrides: {
            "drstack:streaming": { host: "pg-usw2.internal", tlsSecretName: "repl-tls", sslmode: "verify-ca" },
            "drstack:database": { manageGrants: true, host: "pg-acme-orders-use1-rw.example.internal" },
            "drstack:databasePassword": Secret("p"),
            "drstack:backups.pushgatewayUrl": "http://pushgateway.monitoring:9091",
            "drstack:postgres.walCompression": "xz",
            "drstack:postgres.backupCompression": "snappy",
            "drstack:postgres.parameters": { work_mem: "64MB" },
        },
        clusterFields: ["externalClusters.1.connectionParameters", "externalClusters.1.sslKey", "postgresql.parameters.work_mem"],
    },
    {
        title: "dr promoted by a planned switchover (promotion token), streaming, lz4 WAL, bzip2 base backups",
        stack: "dr",
        overrides: {
            ...PROMOTE_DR,
            "drstack:streaming": { host: "pg-use1.internal", tlsSecretName: "repl-tls" },
            "drstack:postgres.walCompression": "lz4",
            "drstack:postgres.backupCompression": "bzip2",
        },
        options: { peers: PRIMARY_DEMOTED },
        clusterFields: ["replica.promotionToken", "externalClusters.1.sslRootCert"],
    },
    {
        // drstack:restore: each restore declares its own Cluster (bootstrap.recovery with the target), validated like the rest.
        title: "primary with point-in-time restores (a time, a restore point)",
        stack: "primary",
        overrides: {
            "drstack:restore": [
                { name: "orders", target: { time: new Date(Date.now() - 3600_000).toISOString() }, source: "self" },
                { name: "premigration", target: { name: "before-migration", backupId: "20261124T020000" }, source: "self", instances: 2 },
            ],
        },
    },
    {
        title: "dr restoring the primary's replicated archive (latest, an LSN)",
        stack: "dr",
        options: {},
        overrides: {
            "drstack:restore": [
                { name: "latest", target: "latest", source: "peer" },
                { name: "at-lsn", target: { lsn: "0/16B3748" }, source: "peer" },
            ],
        },
    },
];

function report(resources: Declared[], validator: CrdValidator): string[] {
    return resources.flatMap((r) =>
        validator.validate(r.inputs).map((p) => `${r.name} (${r.inputs.kind} ${r.inputs.metadata?.name}): ${p.path}: ${p.message}`),
    );
}

describe("Custom resources against the vendored CRDs", function () {
    // Compiling the Cluster CRD (~460 kB of schema) takes a few seconds on a loaded machine.
    this.timeout(testTimeout(120_000));
    let validator: CrdValidator;
    const runs = new Map<string, ProgramRun>();
    before(async () => {
        validator = new CrdValidator();
        for (const v of VARIANTS) runs.set(v.title, await runProgram(v.stack, v.overrides, v.options));
    });

    it("vendors a served CRD for every kind the stack targets", () => {
        assert.deepEqual(validator.kinds(), [
            "barmancloud.cnpg.io/v1 ObjectStore",
            "monitoring.coreos.com/v1 PodMonitor",
            "monitoring.coreos.com/v1 PrometheusRule",
            "postgresql.cnpg.io/v1 Backup",
            "postgresql.cnpg.io/v1 Cluster",
            "postgresql.cnpg.io/v1 ScheduledBackup",
        ]);
    });

    for (const v of VARIANTS) {
        it(`${v.title}: every custom resource matches its CRD, no unknown field`, () => {
            const custom = runs.get(v.title)!.resources.filter(isCustomResource);
            const kinds = new Set(custom.map((r) => r.inputs.kind));
            for (const kind of EXPECTED_KINDS) assert.ok(kinds.has(kind), `no ${kind} declared; declared custom kinds: ${[...kinds].join(", ")}`);
            const spec = custom.find((r) => r.type === CLUSTER)!.inputs.spec;
            for (const field of v.clusterFields ?? []) {
                assert.notEqual(field.split(".").reduce((node: any, key) => node?.[key], spec), undefined, `spec.${field} not declared`);
            }
            assert.deepEqual(report(custom, validator), []);
        });
    }

    it("the config's compression choices are all ones the ObjectStore CRD accepts", () => {
        const store = runs.get(VARIANTS[0].title)!.resources.find((r) => r.inputs.kind === "ObjectStore" && r.inputs.spec.configuration.wal)!;
        const withCompression = (wal: string, data: string) => {
            const copy = structuredClone(store.inputs);
            copy.spec.configuration.wal.compression = wal;
            copy.spec.configuration.data.compression = data;
            return validator.validate(copy);
        };
        for (const wal of WAL_COMPRESSIONS) assert.deepEqual(withCompression(wal, "gzip"), [], `wal compression ${wal}`);
        for (const data of DATA_COMPRESSIONS) assert.deepEqual(withCompression("gzip", data), [], `data compression ${data}`);
        assert.deepEqual(withCompression("brotli", "gzip"), [
            { path: ".spec.configuration.wal.compression", message: 'must be one of "bzip2", "gzip", "lz4", "snappy", "xz", "zstd"' },
        ]);
    });

    describe("the validator itself", () => {
        function declaredCluster() {
            return structuredClone(runs.get(VARIANTS[0].title)!.one(CLUSTER).inputs);
        }

        it("accepts the declared Cluster as is (the starting point of the cases below)", () => {
            assert.deepEqual(validator.validate(declaredCluster()), []);
        });

        it("rejects a misspelt field the API server would silently drop (spec.replica.primry)", () => {
            const cluster = declaredCluster();
            cluster.spec.replica.primry = cluster.spec.replica.primary;
            assert.deepEqual(validator.validate(cluster), [
                { path: ".spec.replica.primry", message: "unknown field (the API server would silently drop it)" },
            ]);
        });

        it("rejects unknown fields in list items and in metadata too", () => {
            const cluster = declaredCluster();
            cluster.spec.externalClusters[1].plugins = cluster.spec.externalClusters[1].plugin;
            cluster.metadata.label = { team: "db" };
            assert.deepEqual(validator.validate(cluster).map((p) => p.path).sort(), [".metadata.label", ".spec.externalClusters[1].plugins"]);
        });

        it("rejects a wrong type and a value outside the schema's bounds", () => {
            const cluster = declaredCluster();
            cluster.spec.instances = "3";
            cluster.spec.replicationSlots.highAvailability.enabled = "yes";
            assert.deepEqual(validator.validate(cluster), [
                { path: ".spec.instances", message: "must be integer" },
                { path: ".spec.replicationSlots.highAvailability.enabled", message: "must be boolean" },
            ]);
            const zero = declaredCluster();
            zero.spec.instances = 0;
            assert.deepEqual(validator.validate(zero), [{ path: ".spec.instances", message: "must be >= 1" }]);
        });

        it("accepts an integer or a string where the schema says x-kubernetes-int-or-string, and nothing else", () => {
            const cluster = declaredCluster();
            cluster.spec.resources.requests.cpu = 2;
            assert.deepEqual(validator.validate(cluster), []);
            cluster.spec.resources.requests.cpu = true;
            assert.ok(validator.validate(cluster).some((p) => p.path === ".spec.resources.requests.cpu"));
        });

        it("evaluates the CRDs' CEL rules: ObjectStore forbids serverName, Cluster forbids imageName with imageCatalogRef", () => {
            const store = structuredClone(runs.get(VARIANTS[0].title)!.resources.find((r) => r.inputs.kind === "ObjectStore")!.inputs);
            assert.deepEqual(validator.validate(store), []);
            store.spec.configuration.serverName = "pg";
            assert.deepEqual(validator.validate(store), [
                {
                    path: ".spec.configuration.serverName",
                    message: "use the 'serverName' plugin parameter in the Cluster resource (CEL rule: !has(self.serverName))",
                },
            ]);
            const cluster = declaredCluster();
            cluster.spec.imageCatalogRef = { apiGroup: "postgresql.cnpg.io", kind: "ImageCatalog", name: "pg", major: 16 };
            assert.deepEqual(validator.validate(cluster).map((p) => p.path + ": " + p.message.split(" (")[0]), [
                ".spec: imageName and imageCatalogRef are mutually exclusive",
            ]);
        });

        it("reads Go regular expressions as the API server does: PrometheusRule's ^(?i)(abort|warn)?$", () => {
            const rule = structuredClone(runs.get(VARIANTS[0].title)!.resources.find((r) => r.inputs.kind === "PrometheusRule")!.inputs);
            rule.spec.groups[0].partial_response_strategy = "Abort";
            assert.deepEqual(validator.validate(rule), []);
            rule.spec.groups[0].partial_response_strategy = "ignore";
            assert.deepEqual(validator.validate(rule), [{ path: ".spec.groups[0].partial_response_strategy", message: 'must match pattern "^(?i)(abort|warn)?$"' }]);
        });

        it("accepts the PodMonitor shape vendor/crds/README.md records for the clusters, and rejects a numeric port name", () => {
            const podMonitor = {
                apiVersion: "monitoring.coreos.com/v1",
                kind: "PodMonitor",
                metadata: { name: "pg-acme-orders-use1", namespace: "databases", labels: { release: "kube-prometheus-stack" } },
                spec: {
                    selector: { matchLabels: { "cnpg.io/cluster": "pg-acme-orders-use1", "cnpg.io/podRole": "instance" } },
                    podMetricsEndpoints: [{ port: "metrics", interval: "30s" }],
                },
            };
            assert.deepEqual(validator.validate(podMonitor), []);
            (podMonitor.spec.podMetricsEndpoints[0] as Record<string, unknown>).port = 9187;
            assert.deepEqual(validator.validate(podMonitor), [{ path: ".spec.podMetricsEndpoints[0].port", message: "must be string" }]);
        });

        it("names a kind it has no CRD for instead of passing it", () => {
            const problems = validator.validate({ apiVersion: "postgresql.cnpg.io/v1", kind: "Pooler", metadata: { name: "p" } });
            assert.equal(problems.length, 1);
            assert.match(problems[0].message, /no vendored CRD serves postgresql\.cnpg\.io\/v1 Pooler/);
        });
    });
});
