// Every policy of the pack, in one list: the pack (index.ts) and the offline check use it.
import { Policies } from "@pulumi/policy";
import { alertPolicies } from "./alerts";
import { cronJobPolicies } from "./cronJobs";
import { failoverPolicies } from "./failover";
import { replicationPolicies } from "./replication";
import { restorePolicies } from "./restore";
import { storagePolicies } from "./storage";
import { walArchivingPolicies } from "./walArchiving";

export const allPolicies: Policies = [
    ...storagePolicies,
    ...replicationPolicies,
    ...walArchivingPolicies,
    ...alertPolicies,
    ...failoverPolicies,
    ...cronJobPolicies,
    ...restorePolicies,
];
