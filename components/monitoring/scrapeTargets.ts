// What the user's Prometheus scrapes, declared by the stack so every alert has a producer:
// - a PodMonitor per CloudNativePG cluster. CloudNativePG 1.30 deprecates
//   `.spec.monitoring.enablePodMonitor` and tells users to create one (docs/src/monitoring.md @v1.30.0);
//   its instance manager serves the cnpg_* metrics and the Barman Cloud plugin's
//   barman_cloud_cloudnative_pg_io_* metrics on the container port named "metrics".
// - unless drstack:backups.pushgatewayUrl names one, a Pushgateway (Deployment, Service, PodMonitor)
//   that the backup jobs publish their detailed results to.
// Both PodMonitors carry drstack:alerts.monitorLabels (default: drstack:alerts.ruleLabels), the labels
// the Prometheus operator's podMonitorSelector matches. kube-state-metrics (kube_cronjob_*) is not
// deployed here: the README requires it, as kube-prometheus-stack ships it.

import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { clusterObjectNames, CNPG_LABELS, CNPG_METRICS_PORT, LABELS, PUSHGATEWAY } from "../../model/contract";
import { restrictedContainerSecurity, restrictedPodSecurity, singleReplicaDeploymentSpec } from "../podSecurity";

export interface ScrapeTargetsArgs {
    clusterName: string;
    namespace: pulumi.Input<string>;
    /** Labels the Prometheus operator's podMonitorSelector matches. */
    monitorLabels: Record<string, string>;
    /** Deploy a Pushgateway for the jobs (drstack:backups.pushgatewayUrl unset). */
    deployPushgateway: boolean;
}

/** The URL of the Pushgateway the stack deploys for a cluster (in-cluster DNS of its Service). */
export function deployedPushgatewayUrl(clusterName: string, namespace: string): string {
    return `http://${clusterObjectNames(clusterName).pushgateway}.${namespace}.svc:${PUSHGATEWAY.port}`;
}

export interface ScrapeTargets {
    podMonitor: k8s.apiextensions.CustomResource;
    pushgateway?: { deployment: k8s.apps.v1.Deployment; service: k8s.core.v1.Service; podMonitor: k8s.apiextensions.CustomResource };
}

export function declareScrapeTargets(name: string, args: ScrapeTargetsArgs, opts: pulumi.CustomResourceOptions): ScrapeTargets {
    const objects = clusterObjectNames(args.clusterName);
    // Fields as prometheus-operator v0.93 defines them (vendor/crds/monitoring.coreos.com_podmonitors.yaml);
    // the podRole label keeps the cluster's backup and job pods out of the selection.
    const podMonitor = new k8s.apiextensions.CustomResource(
        `${name}-pod-monitor`,
        {
            apiVersion: "monitoring.coreos.com/v1",
            kind: "PodMonitor",
            metadata: { name: objects.podMonitor, namespace: args.namespace, labels: args.monitorLabels },
            spec: {
                selector: { matchLabels: { [CNPG_LABELS.cluster]: args.clusterName, [CNPG_LABELS.podRole.key]: CNPG_LABELS.podRole.instance } },
                podMetricsEndpoints: [{ port: CNPG_METRICS_PORT }],
            },
        },
        opts,
    );
    if (!args.deployPushgateway) {
        return { podMonitor };
    }
    return { podMonitor, pushgateway: declarePushgateway(name, args, opts) };
}

function declarePushgateway(name: string, args: ScrapeTargetsArgs, opts: pulumi.CustomResourceOptions): NonNullable<ScrapeTargets["pushgateway"]> {
    const objectName = clusterObjectNames(args.clusterName).pushgateway;
    const labels = { [LABELS.partOf.key]: LABELS.partOf.value, [LABELS.component.key]: "pushgateway", "app.kubernetes.io/instance": objectName };
    const deployment = new k8s.apps.v1.Deployment(
        `${name}-pushgateway`,
        {
            metadata: { name: objectName, namespace: args.namespace, labels },
            spec: singleReplicaDeploymentSpec(labels, {
                automountServiceAccountToken: false,
                // nobody (65534), the user of the prom/pushgateway image.
                securityContext: restrictedPodSecurity(65534, { fsGroup: true }),
                containers: [
                    {
                        name: "pushgateway",
                        image: PUSHGATEWAY.image,
                        // Pushed groups are kept on the pod's volume: a container restart keeps the last
                        // results; a rescheduled pod starts empty until the next job run (README).
                        args: ["--persistence.file=/data/pushgateway.db", "--persistence.interval=1m"],
                        ports: [{ name: PUSHGATEWAY.portName, containerPort: PUSHGATEWAY.port }],
                        readinessProbe: { httpGet: { path: "/-/ready", port: PUSHGATEWAY.portName } },
                        livenessProbe: { httpGet: { path: "/-/healthy", port: PUSHGATEWAY.portName } },
                        resources: { requests: { cpu: "10m", memory: "32Mi" }, limits: { memory: "64Mi" } },
                        securityContext: restrictedContainerSecurity(),
                        volumeMounts: [{ name: "data", mountPath: "/data" }],
                    },
                ],
                volumes: [{ name: "data", emptyDir: { sizeLimit: "64Mi" } }],
            }),
        },
        opts,
    );
    const service = new k8s.core.v1.Service(
        `${name}-pushgateway-service`,
        {
            metadata: { name: objectName, namespace: args.namespace, labels },
            spec: { selector: labels, ports: [{ name: PUSHGATEWAY.portName, port: PUSHGATEWAY.port, targetPort: PUSHGATEWAY.portName }] },
        },
        opts,
    );
    // honorLabels: the pushed `job` and `instance` labels win over the scrape target's, as the
    // Pushgateway README requires (github.com/prometheus/pushgateway#about-the-job-and-instance-labels).
    const podMonitor = new k8s.apiextensions.CustomResource(
        `${name}-pushgateway-pod-monitor`,
        {
            apiVersion: "monitoring.coreos.com/v1",
            kind: "PodMonitor",
            metadata: { name: objectName, namespace: args.namespace, labels: args.monitorLabels },
            spec: { selector: { matchLabels: labels }, podMetricsEndpoints: [{ port: PUSHGATEWAY.portName, honorLabels: true }] },
        },
        opts,
    );
    return { deployment, service, podMonitor };
}
