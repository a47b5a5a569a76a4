// Route53 failover routing for one region: a health check on the region's public endpoint and
// the region's half of the failover record pair (same name in both stacks, distinct set
// identifiers). The record type follows the stack role, so promoting the DR stack makes its
// record PRIMARY. Route53 health-check metrics exist only in us-east-1, so the alarm on them is
// created there (per-resource region of @pulumi/aws 7), whatever the stack's own region is.

import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { COMPONENT_TYPES } from "../../model/contract";

/** The only region where Route53 publishes HealthCheckStatus. */
export const ROUTE53_METRICS_REGION = "us-east-1";

export interface FailoverRecordArgs {
    /** Hosted zone of the record. */
    zoneId: string;
    /** The name clients resolve (same in both stacks). */
    recordName: string;
    /** This region's endpoint: the record's target and the health check's host. */
    endpoint: string;
    /** "cname": a CNAME to the endpoint; "alias": an A alias to a load balancer. */
    endpointType: "cname" | "alias";
    /** The load balancer's canonical hosted zone, for aliases. */
    aliasZoneId?: string;
    /** PRIMARY in the primary stack, SECONDARY in the standby stack. */
    failover: "PRIMARY" | "SECONDARY";
    /** Distinguishes the two records of the pair, e.g. "acme-orders-us-east-1". */
    setIdentifier: string;
    /** Health check of the endpoint. */
    healthCheck: { protocol: string; path: string; port: number; interval: number; failureThreshold: number; regions: string[] };
    /** SNS topic in us-east-1 the health-check alarm notifies. */
    alarmTopicArn: pulumi.Input<string>;
    tags?: Record<string, string>;
}

export class FailoverRecord extends pulumi.ComponentResource {
    public readonly healthCheck: aws.route53.HealthCheck;
    public readonly record: aws.route53.Record;
    public readonly healthAlarm: aws.cloudwatch.MetricAlarm;

    constructor(name: string, args: FailoverRecordArgs, opts?: pulumi.ComponentResourceOptions) {
        super(COMPONENT_TYPES.failoverRecord, name, args, opts);
        const hc = args.healthCheck;

        this.healthCheck = new aws.route53.HealthCheck(
            `${name}-health-check`,
            {
                type: hc.protocol,
                fqdn: args.endpoint,
                port: hc.port,
                resourcePath: hc.path,
                requestInterval: hc.interval,
                failureThreshold: hc.failureThreshold,
                regions: hc.regions,
                enableSni: hc.protocol === "HTTPS",
                measureLatency: true,
                tags: { ...args.tags, Name: `${args.setIdentifier} ${args.endpoint}` },
            },
            { parent: this },
        );

        const alias = args.endpointType === "alias";
        this.record = new aws.route53.Record(
            `${name}-record`,
            {
                zoneId: args.zoneId,
                name: args.recordName,
                type: alias ? "A" : "CNAME",
                setIdentifier: args.setIdentifier,
                failoverRoutingPolicies: [{ type: args.failover }],
                healthCheckId: this.healthCheck.id,
                // A short TTL: clients must follow a failover within the RTO.
                ttl: alias ? undefined : 60,
                records: alias ? undefined : [args.endpoint],
                aliases: alias ? [{ name: args.endpoint, zoneId: args.aliasZoneId!, evaluateTargetHealth: true }] : undefined,
            },
            { parent: this },
        );

        this.healthAlarm = new aws.cloudwatch.MetricAlarm(
            `${name}-health-alarm`,
            {
                region: ROUTE53_METRICS_REGION,
                alarmDescription: `Route53 health check of ${args.endpoint} (${args.failover} for ${args.recordName}) is failing`,
                namespace: "AWS/Route53",
                metricName: "HealthCheckStatus",
                dimensions: { HealthCheckId: this.healthCheck.id },
                statistic: "Minimum",
                period: 60,
                evaluationPeriods: 1,
                threshold: 1,
                comparisonOperator: "LessThanThreshold",
                // No data from the checkers is itself a reason to look.
                treatMissingData: "breaching",
                alarmActions: [args.alarmTopicArn],
                okActions: [args.alarmTopicArn],
                tags: args.tags,
            },
            { parent: this },
        );

        this.registerOutputs({ healthCheckId: this.healthCheck.id, recordFqdn: this.record.fqdn });
    }
}
