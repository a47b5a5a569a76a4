// The CloudNativePG operator and its Barman Cloud plugin, as pinned Helm releases.
// Skippable by config when the platform team already runs them (the cluster then only
// needs the CRDs to exist). The plugin needs cert-manager for its mTLS certificates.

import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { COMPONENT_TYPES } from "../../model/contract";

/** Pinned releases: bump deliberately, after reading the upgrade notes. */
export const CHARTS = {
    repository: "https://cloudnative-pg.github.io/charts",
    operator: { chart: "cloudnative-pg", version: "0.29.0", appVersion: "1.30.0" },
    barmanCloudPlugin: { chart: "plugin-barman-cloud", version: "0.7.0", appVersion: "v0.13.0" },
    /** The plugin must run in the operator's namespace. */
    namespace: "cnpg-system",
} as const;

export interface PostgresOperatorsArgs {
    /** Namespace for the operator and the plugin (they must share it). */
    namespace?: string;
}

export class PostgresOperators extends pulumi.ComponentResource {
    public readonly operator: k8s.helm.v3.Release;
    public readonly barmanCloudPlugin: k8s.helm.v3.Release;

    constructor(name: string, args: PostgresOperatorsArgs, opts?: pulumi.ComponentResourceOptions) {
        super(COMPONENT_TYPES.operators, name, args, opts);
        const namespace = args.namespace ?? CHARTS.namespace;

        this.operator = new k8s.helm.v3.Release(
            `${name}-cloudnative-pg`,
            {
                name: "cnpg",
                chart: CHARTS.operator.chart,
                version: CHARTS.operator.version,
                repositoryOpts: { repo: CHARTS.repository },
                namespace,
                createNamespace: true,
                // Roll back a failed upgrade instead of leaving a half-upgraded operator.
                atomic: true,
                values: { crds: { create: true } },
            },
            { parent: this },
        );

        this.barmanCloudPlugin = new k8s.helm.v3.Release(
            `${name}-barman-cloud`,
            {
                name: "barman-cloud",
                chart: CHARTS.barmanCloudPlugin.chart,
                version: CHARTS.barmanCloudPlugin.version,
                repositoryOpts: { repo: CHARTS.repository },
                namespace,
                atomic: true,
            },
            { parent: this, dependsOn: [this.operator] },
        );

        this.registerOutputs({});
    }
}
