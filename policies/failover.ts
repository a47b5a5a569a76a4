// Failover routing and roles: every failover record is health-checked, each stack has exactly
// one role that its cluster agrees on, and its replication carries only its own cluster's prefixes
// (whatever the role). Failover records are static (DESIGN.md "Static stability"): the home region's
// is PRIMARY whatever the role, the other's SECONDARY; health checks, not record edits, decide which one answers.
import { COMPONENT_TYPES } from "../model/contract";
import { isRestoreCluster } from "../model/restore";
import { drRegions, ofType, T } from "./stack";
import { describe, fixedIn, resourcePolicy, setting, stackPolicy } from "./targets";

export const failoverHealthCheck = resourcePolicy({
    name: "failover-record-health-check",
    description: "Every Route53 failover record has a health check; without one Route53 never fails over.",
    types: [T.route53Record],
    validate: (record, args, report) => {
        if ((record.failoverRoutingPolicies ?? []).length > 0 && !record.healthCheckId) {
            report(`${describe(args)}: failover record ${record.name} has no healthCheckId; Route53 would never fail over from it`, fixedIn("components/dns/failoverRecord.ts"));
        }
    },
});

export const singleRole = stackPolicy({
    name: "one-role-per-stack",
    description: "Each stack has exactly one role that its PostgreSQL cluster agrees with, replicates only its own cluster's prefixes, and has a static failover record type (PRIMARY in the home region).",
    validate: (args, report) => {
        const regions = drRegions(args.resources);
        if (regions.length !== 1) {
            report(`the stack declares ${regions.length} DR regions (${COMPONENT_TYPES.region}); it must declare exactly one`, fixedIn("index.ts"));
            return;
        }
        const { role, resource, region, homeRegion } = regions[0];
        if (role !== "primary" && role !== "standby") {
            report(`${describe(resource)}: role is ${JSON.stringify(role)}; it must be primary or standby`, setting("role"), resource.urn);
            return;
        }
        const expected = region === homeRegion ? "PRIMARY" : "SECONDARY";
        for (const record of ofType(args.resources, T.route53Record)) {
            for (const policy of record.props.failoverRoutingPolicies ?? []) {
                if (policy.type !== expected) {
                    report(
                        `${describe(record)}: failover type is ${policy.type} but ${region} is ${region === homeRegion ? "" : "not "}the home region ${homeRegion} ` +
                            `(expected ${expected}; records are static, health checks decide)`,
                        setting("homeRegion"),
                        record.urn,
                    );
                }
            }
        }
        // Restore clusters stand outside the replication topology (policies/restore.ts).
        for (const cluster of ofType(args.resources, T.cnpgCluster).filter((c) => !isRestoreCluster(c.props))) {
            const replica = cluster.props.spec?.replica ?? {};
            const isPrimary = replica.primary === undefined || replica.primary === replica.self;
            if (isPrimary !== (role === "primary")) {
                report(
                    `${describe(cluster)}: spec.replica.primary is ${JSON.stringify(replica.primary)} (self ${JSON.stringify(replica.self)}), which makes it ` +
                        `${isPrimary ? "primary" : "a replica"}, but the stack's role is ${role}`,
                    setting("role"),
                    cluster.urn,
                );
            }
        }
        // Replication is role-independent (DESIGN.md "Static stability"): each stack replicates only
        // its own cluster's prefixes (model/replicationScope.ts), so the two directions never overlap.
        const own: unknown = resource.props.config?.names?.cluster;
        for (const config of ofType(args.resources, T.bucketReplication)) {
            for (const rule of config.props.rules ?? []) {
                const prefix: unknown = rule.filter?.prefix;
                if (typeof own === "string" && (typeof prefix !== "string" || !prefix.includes(own))) {
                    report(
                        `${describe(config)}: rule ${JSON.stringify(rule.id)} selects ${typeof prefix === "string" && prefix !== "" ? `prefix ${JSON.stringify(prefix)}` : "every object"}; ` +
                            `a stack may replicate only its own cluster's (${own}) prefixes, or it overwrites the peer's objects`,
                        fixedIn("model/replicationScope.ts"),
                        config.urn,
                    );
                }
            }
        }
    },
});

export const failoverPolicies = [failoverHealthCheck, singleRole];
