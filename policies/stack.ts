// What a stack policy needs to know about the stack as a whole: its DrRegion (role, region),
// read from the component's inputs, which the engine passes to analyzers like any resource.
import { PolicyResource } from "@pulumi/policy";

export const DR_REGION_TYPE = "drstack:region:DrRegion";
export const CNPG_CLUSTER_TYPE = "kubernetes:postgresql.cnpg.io/v1:Cluster";
export const OBJECT_STORE_TYPE = "kubernetes:barmancloud.cnpg.io/v1:ObjectStore";
export const SCHEDULED_BACKUP_TYPE = "kubernetes:postgresql.cnpg.io/v1:ScheduledBackup";
export const PROMETHEUS_RULE_TYPE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule";
export const CRONJOB_TYPE = "kubernetes:batch/v1:CronJob";
export const REPLICATION_TYPE = "aws:s3/bucketReplicationConfig:BucketReplicationConfig";
export const BARMAN_CLOUD_PLUGIN = "barman-cloud.cloudnative-pg.io";

export interface StackRegion {
    resource: PolicyResource;
    role: string;
    region: string;
    replicationEnabled: boolean;
}

/** The stack's DrRegion components (a well-formed stack has exactly one). */
export function drRegions(resources: PolicyResource[]): StackRegion[] {
    return resources
        .filter((r) => r.type === DR_REGION_TYPE)
        .map((r) => ({
            resource: r,
            role: r.props.config?.role,
            region: r.props.config?.region,
            replicationEnabled: r.props.config?.replication?.enabled !== false,
        }));
}

export function ofType(resources: PolicyResource[], type: string): PolicyResource[] {
    return resources.filter((r) => r.type === type);
}
