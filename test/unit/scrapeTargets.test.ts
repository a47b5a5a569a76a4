// What the user's Prometheus scrapes, as the program declares it: a PodMonitor per CloudNativePG
// cluster, and a Pushgateway for the jobs' results when drstack:backups.pushgatewayUrl is unset.
// Also: no workload references a Secret, ConfigMap or ServiceAccount the stack does not declare.
import { strict as assert } from "assert";
import { clusterObjectNames, RESOURCE_TYPES as T } from "../../model/contract";
import { Declared, ProgramRun, RunOptions, runProgram, Secret } from "../support/program";
import { podSpec, WORKLOAD_SHAPES } from "../support/workloads";

const USE1 = "pg-acme-orders-use1";

function env(workload: Declared): Record<string, unknown> {
    const container = podSpec(workload).containers[0];
    return Object.fromEntries(container.env.map((e: any) => [e.name, e.value ?? e.valueFrom]));
}

describe("scrape targets, primary stack as shipped", () => {
    let run: ProgramRun;
    before(async () => {
        run = await runProgram("primary");
    });

    it("declares a PodMonitor for the cluster's instance pods, labelled like the rules", () => {
        const monitor = run.ofType(T.podMonitor).find((m) => m.inputs.metadata.name === clusterObjectNames(USE1).podMonitor)!;
        assert.ok(monitor, "no PodMonitor for the cluster");
        assert.deepEqual(monitor.inputs.metadata.labels, { release: "kube-prometheus-stack" });
        assert.deepEqual(monitor.inputs.spec.selector, { matchLabels: { "cnpg.io/cluster": USE1, "cnpg.io/podRole": "instance" } });
        assert.deepEqual(monitor.inputs.spec.podMetricsEndpoints, [{ port: "metrics" }]);
        assert.equal(monitor.inputs.metadata.namespace, "databases");
    });

    it("deploys a pinned, non-root, read-only Pushgateway, scraped with honorLabels, that every job publishes to", () => {
        const name = clusterObjectNames(USE1).pushgateway;
        const deployment = run.ofType(T.deployment).find((d) => d.inputs.metadata.name === name)!;
        const pod = podSpec(deployment);
        const container = pod.containers[0];
        assert.match(container.image, /^prom\/pushgateway:v1\.\d+\.\d+$/);
        assert.equal(pod.securityContext.runAsNonRoot, true);
        assert.equal(container.securityContext.readOnlyRootFilesystem, true);
        assert.ok(container.resources.requests.memory && container.resources.limits.memory);
        const service = run.one(T.service);
        assert.equal(service.inputs.metadata.name, name);
        assert.deepEqual(service.inputs.spec.selector, deployment.inputs.spec.template.metadata.labels);
        const port = service.inputs.spec.ports[0].port;
        const monitor = run.ofType(T.podMonitor).find((m) => m.inputs.metadata.name === name)!;
        assert.deepEqual(monitor.inputs.spec.podMetricsEndpoints, [{ port: container.ports[0].name, honorLabels: true }]);
        assert.deepEqual(monitor.inputs.spec.selector.matchLabels, deployment.inputs.spec.selector.matchLabels);
        const url = `http://${name}.databases.svc:${port}`;
        assert.equal(run.ofType(T.cronJob).length, 4, "the three backup jobs and the fence check");
        for (const job of run.ofType(T.cronJob)) {
            assert.equal(env(job).PUSHGATEWAY_URL, url, job.name);
        }
        assert.equal(run.outputs.pushgatewayUrl, url);
    });

    it("gives the jobs the bucket key ARN, so every upload names the key the bucket policy accepts", () => {
        const keyArn = run.one(T.bucketEncryption).inputs.rules[0].applyServerSideEncryptionByDefault.kmsMasterKeyId;
        // The fence check only reads (its marker); every other job uploads.
        for (const job of run.ofType(T.cronJob).filter((j) => j.inputs.metadata.labels["drstack.io/job"] !== "fence-check")) {
            assert.equal(env(job).S3_SSE_KMS_KEY_ID, keyArn, job.name);
        }
    });
});

describe("scrape targets, with a Pushgateway and monitor labels given", () => {
    it("deploys no Pushgateway, publishes to the given one, and labels the PodMonitor with drstack:alerts.monitorLabels", async () => {
        const run = await runProgram("primary", {
            "drstack:backups.pushgatewayUrl": "http://pushgateway.monitoring:9091",
            "drstack:alerts.monitorLabels": { prometheus: "platform" },
        });
        assert.equal(run.ofType(T.deployment).filter((d) => d.inputs.metadata.name === clusterObjectNames(USE1).pushgateway).length, 0);
        assert.equal(run.ofType(T.podMonitor).length, 1);
        assert.deepEqual(run.one(T.podMonitor).inputs.metadata.labels, { prometheus: "platform" });
        for (const job of run.ofType(T.cronJob)) {
            assert.equal(env(job).PUSHGATEWAY_URL, "http://pushgateway.monitoring:9091");
        }
    });
});

/** Every object a workload (or the Cluster's managed roles) refers to by name: kind -> names. */
export function referencedObjects(workload: Declared): { kind: "Secret" | "ConfigMap" | "ServiceAccount"; name: string; where: string }[] {
    const refs: { kind: "Secret" | "ConfigMap" | "ServiceAccount"; name: string; where: string }[] = [];
    if (workload.type === T.cnpgCluster) {
        for (const role of workload.inputs.spec.managed?.roles ?? []) {
            if (role.passwordSecret) refs.push({ kind: "Secret", name: role.passwordSecret.name, where: `managed role ${role.name}` });
        }
        return refs;
    }
    const pod = podSpec(workload);
    if (pod.serviceAccountName) refs.push({ kind: "ServiceAccount", name: pod.serviceAccountName, where: "serviceAccountName" });
    for (const c of [...(pod.initContainers ?? []), ...pod.containers]) {
        for (const e of c.env ?? []) {
            if (e.valueFrom?.secretKeyRef) refs.push({ kind: "Secret", name: e.valueFrom.secretKeyRef.name, where: `${c.name} env ${e.name}` });
            if (e.valueFrom?.configMapKeyRef) refs.push({ kind: "ConfigMap", name: e.valueFrom.configMapKeyRef.name, where: `${c.name} env ${e.name}` });
        }
        for (const from of c.envFrom ?? []) {
            if (from.secretRef) refs.push({ kind: "Secret", name: from.secretRef.name, where: `${c.name} envFrom` });
            if (from.configMapRef) refs.push({ kind: "ConfigMap", name: from.configMapRef.name, where: `${c.name} envFrom` });
        }
    }
    for (const v of pod.volumes ?? []) {
        if (v.secret) refs.push({ kind: "Secret", name: v.secret.secretName, where: `volume ${v.name}` });
        if (v.configMap) refs.push({ kind: "ConfigMap", name: v.configMap.name, where: `volume ${v.name}` });
        for (const source of v.projected?.sources ?? []) {
            if (source.secret) refs.push({ kind: "Secret", name: source.secret.name, where: `volume ${v.name}` });
            if (source.configMap) refs.push({ kind: "ConfigMap", name: source.configMap.name, where: `volume ${v.name}` });
        }
    }
    return refs;
}

/** References to objects the run does not declare, as "<workload>: <where> -> <Kind>/<name>". */
export function danglingReferences(run: ProgramRun): string[] {
    const declared: Record<string, Set<string>> = {
        Secret: new Set(run.ofType(T.secret).map((r) => r.inputs.metadata.name)),
        ConfigMap: new Set(run.ofType(T.configMap).map((r) => r.inputs.metadata.name)),
        ServiceAccount: new Set(run.ofType(T.serviceAccount).map((r) => r.inputs.metadata.name)),
    };
    const workloads = [...run.ofType(T.cronJob), ...run.ofType(T.deployment), ...run.ofType(T.cnpgCluster)];
    return workloads.flatMap((w) =>
        referencedObjects(w)
            .filter((ref) => !declared[ref.kind].has(ref.name))
            .map((ref) => `${w.name}: ${ref.where} -> ${ref.kind}/${ref.name}`),
    );
}

describe("no workload references an object the stack does not declare", () => {
    const variants: [string, string, Record<string, unknown>, RunOptions?][] = [
        ...WORKLOAD_SHAPES,
        [
            "primary with grants and a given Pushgateway",
            "primary",
            {
                "drstack:database": { manageGrants: true, host: "pg.example.internal" },
                "drstack:databasePassword": Secret("p"),
                "drstack:backups.pushgatewayUrl": "http://pushgateway.monitoring:9091",
            },
        ],
    ];
    for (const [title, stack, overrides, options] of variants) {
        it(title, async () => {
            const run = await runProgram(stack, overrides, options);
            assert.ok(run.ofType(T.cronJob).length >= 2);
            assert.deepEqual(danglingReferences(run), []);
        });
    }

    it("reports a CronJob that reads a Secret nobody declares (the check can fail)", async () => {
        const run = await runProgram("primary");
        const job = structuredClone(run.ofType(T.cronJob)[0]);
        podSpec(job).containers[0].env.push({ name: "X", valueFrom: { secretKeyRef: { name: "nowhere", key: "k" } } });
        podSpec(job).volumes.push({ name: "cm", configMap: { name: "no-such-config" } });
        const planted = { ...run, resources: [...run.resources, job], ofType: (t: string) => [...run.ofType(t), ...(t === job.type ? [job] : [])] } as ProgramRun;
        assert.deepEqual(danglingReferences(planted), [`${job.name}: ${podSpec(job).containers[0].name} env X -> Secret/nowhere`, `${job.name}: volume cm -> ConfigMap/no-such-config`]);
    });
});
