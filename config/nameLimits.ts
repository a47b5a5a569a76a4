// Every name drstack derives from drstack:prefix, checked against the length limit of the API that
// receives it, so a long prefix is refused by name at `pulumi preview` instead of failing half-way
// through a deploy (a 32-character prefix makes CronJob names longer than Kubernetes' 52).

import { clusterObjectNames, configKey, fenceCheckObjectNames, jobNames } from "../model/contract";
import {
    AUTONAME_SUFFIX_LENGTH,
    backupBucketName,
    backupKeyAlias,
    clusterName,
    DerivedName,
    dnsFenceAlarmName,
    failoverSetIdentifier,
    iamRoleLogicalNames,
    NAME_LIMITS as L,
} from "../model/naming";
import { Problem, problem } from "./problem";

function named(what: string, name: string, limit: number, suffix = 0): DerivedName {
    return { what, name, length: name.length + suffix, limit };
}

/** The names a stack pair derives from the prefix, each with the limit of its API. */
export function derivedNames(prefix: string, regions: string[]): DerivedName[] {
    const names: DerivedName[] = [named("the KMS alias", backupKeyAlias(prefix), L.kmsAlias)];
    for (const role of iamRoleLogicalNames(prefix)) {
        names.push(named("the IAM role (auto-named: +8 characters)", role, L.iamRole, AUTONAME_SUFFIX_LENGTH));
    }
    for (const region of regions) {
        const cluster = clusterName(prefix, region);
        const objects = clusterObjectNames(cluster);
        names.push(named(`the backup bucket of ${region}`, backupBucketName(prefix, region), L.s3Bucket));
        names.push(named(`the Route53 set identifier of ${region}`, failoverSetIdentifier(prefix, region), L.route53SetIdentifier));
        names.push(named(`the cluster name of ${region} (a label value)`, cluster, L.kubernetesLabelValue));
        names.push(named(`the read-write Service of ${region}`, objects.rwService, L.kubernetesService));
        names.push(named(`the read-only Service of ${region}`, objects.roService, L.kubernetesService));
        names.push(named(`the DNS fence alarm of ${region}`, dnsFenceAlarmName(prefix, region), L.cloudwatchAlarm));
        names.push(named(`the fence-check CronJob of ${region}`, fenceCheckObjectNames(cluster).cronJob, L.cronJob));
        for (const job of Object.values(jobNames(cluster))) {
            names.push(named(`a CronJob of ${region}`, job, L.cronJob));
        }
        for (const object of [objects.replicatedArchiveObjectStore, objects.verificationCredentials, objects.monitoringCredentials, objects.dashboardConfigMap]) {
            names.push(named(`a Kubernetes object of ${region}`, object, L.kubernetesObject));
        }
    }
    return names;
}

export function nameLengthProblems(prefix: string, regions: string[]): Problem[] {
    return derivedNames(prefix, regions)
        .filter((n) => n.length > n.limit)
        .map((n) =>
            problem(
                "prefix",
                `"${prefix}" makes ${n.what} "${n.name}" ${n.length} characters long; its API allows ${n.limit}: ` +
                    `shorten ${configKey("prefix")} by ${n.length - n.limit} or more`,
            ),
        );
}
