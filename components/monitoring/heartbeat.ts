// The heartbeat: one small pod on the primary stack that commits a transaction every
// HEARTBEAT_INTERVAL_SECONDS (model/rpo.ts). Replica lag (CloudNativePG's pg_replication query:
// now() - pg_last_xact_replay_timestamp()) and the restore verification's recovery point are both
// measured from the newest replayed commit, so on an idle database they would grow with nothing
// at risk; with the heartbeat they overstate the true gap by at most the interval.
// No CloudNativePG-native way exists: custom monitoring queries run in a read-only transaction
// (CloudNativePG docs/src/monitoring.md @v1.30.0, "one read-only transaction per query").
// The commit is a transactional logical message (model/contract.ts HEARTBEAT): no table, no
// write grant, so the jobs' read-only role is enough.

import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { clusterObjectNames, HEARTBEAT, LABELS } from "../../model/contract";
import { HEARTBEAT_INTERVAL_SECONDS } from "../../model/rpo";
import { JOB_IMAGE_UID, restrictedContainerSecurity, restrictedPodSecurity, singleReplicaDeploymentSpec } from "../podSecurity";

export interface HeartbeatArgs {
    clusterName: string;
    namespace: pulumi.Input<string>;
    /** The read-write service of the cluster: only the primary takes the commit. */
    host: string;
    database: string;
    /** basic-auth Secret (username, password) of a login role. */
    credentialsSecret: string;
    /** Pinned image with psql (the backup jobs' image). */
    image: string;
}

/** The container's loop: a failed commit is logged and retried at the next tick, never fatal. */
export function heartbeatCommand(intervalSeconds: number = HEARTBEAT_INTERVAL_SECONDS): string[] {
    return [
        "/bin/sh",
        "-c",
        `while :; do psql -X -q -A -t -c "${HEARTBEAT.sql}" >/dev/null || echo "heartbeat failed; retrying in ${intervalSeconds}s" >&2; sleep ${intervalSeconds}; done`,
    ];
}

export function declareHeartbeat(name: string, args: HeartbeatArgs, opts: pulumi.CustomResourceOptions): k8s.apps.v1.Deployment {
    const labels = { [LABELS.partOf.key]: LABELS.partOf.value, [LABELS.job]: HEARTBEAT.prefix };
    return new k8s.apps.v1.Deployment(
        name,
        {
            metadata: { name: clusterObjectNames(args.clusterName).heartbeat, namespace: args.namespace, labels },
            spec: singleReplicaDeploymentSpec(labels, {
                securityContext: restrictedPodSecurity(JOB_IMAGE_UID),
                containers: [
                    {
                        name: "heartbeat",
                        image: args.image,
                        command: heartbeatCommand(),
                        env: [
                            { name: "PGHOST", value: args.host },
                            { name: "PGDATABASE", value: args.database },
                            { name: "PGSSLMODE", value: "require" },
                            { name: "PGCONNECT_TIMEOUT", value: "10" },
                            { name: "PGUSER", valueFrom: { secretKeyRef: { name: args.credentialsSecret, key: "username" } } },
                            { name: "PGPASSWORD", valueFrom: { secretKeyRef: { name: args.credentialsSecret, key: "password" } } },
                        ],
                        resources: { requests: { cpu: "10m", memory: "16Mi" }, limits: { memory: "64Mi" } },
                        securityContext: restrictedContainerSecurity(),
                    },
                ],
            }),
        },
        opts,
    );
}
