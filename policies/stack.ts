// What a stack policy needs to know about the stack as a whole: its DrRegion (role, region),
// read from the component's inputs, which the engine passes to analyzers like any resource.
// Type tokens and names come from the contract (model/contract.ts), as the program declares them.
import { PolicyResource } from "@pulumi/policy";
import { COMPONENT_TYPES, RESOURCE_TYPES } from "../model/contract";

export const DR_REGION_TYPE = COMPONENT_TYPES.region;
export const T = RESOURCE_TYPES;

export interface StackRegion {
    resource: PolicyResource;
    role: string;
    region: string;
    /** drstack:homeRegion: the region whose failover record is PRIMARY, whatever the role. */
    homeRegion?: string;
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
            homeRegion: r.props.config?.homeRegion,
            replicationEnabled: r.props.config?.replication?.enabled !== false,
        }));
}

export function ofType(resources: PolicyResource[], type: string): PolicyResource[] {
    return resources.filter((r) => r.type === type);
}
