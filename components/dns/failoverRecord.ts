// Route53 failover routing for one region: a health check on the region's public endpoint and
// the region's half of the failover record pair (same name in both stacks, distinct set
// identifiers). Route53 health-check metrics exist only in us-east-1, so the alarm on them is
// created there (per-resource region of @pulumi/aws 7), whatever the stack's own region is.
//
// Static stability (DESIGN.md): the records never change on a promotion. Route53 allows one
// PRIMARY and one SECONDARY failover record per name (boto3 issue 1347), and its control plane
// lives in us-east-1, the region a failover may have lost. So the home region's record is PRIMARY
// and the other's SECONDARY, always; which one answers is decided by health checks (data plane):
// - the non-home stack owns the DNS fence: a CloudWatch alarm in its own region on a metric
//   nobody publishes, so only treatMissingData decides its state: "breaching" (ALARM) while that
//   stack is promoted, "notBreaching" (OK) while it is standby (the EventBridge global endpoint
//   template relies on the same behaviour: docs.aws.amazon.com/eventbridge/latest/userguide/eb-ge-cfn.html);
// - the home stack's PRIMARY record uses a CALCULATED health check: its endpoint is healthy AND
//   a CLOUDWATCH_METRIC health check on that alarm is healthy (childHealthThreshold = 2 of 2).
//   insufficientDataHealthStatus LastKnownStatus: if the non-home region (and its alarm) is lost,
//   the fence keeps its last state instead of flipping the home region off or on.
// Deploy order: the home stack's alarm health check names an alarm the non-home stack creates,
// so the non-home stack (dr) is deployed first (README "Deploying for real").

import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { COMPONENT_TYPES, DNS_FENCE_METRIC } from "../../model/contract";

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
    /** PRIMARY in the home region's stack, SECONDARY in the other: static, never follows the role. */
    failover: "PRIMARY" | "SECONDARY";
    /**
     * The DNS fence. Non-home stack (`own`): declare the alarm, raised while this stack is promoted.
     * Home stack (`peer`): fence the PRIMARY record with the peer's alarm, by name and region.
     */
    fence: { own: { alarmName: string; cluster: string; raised: boolean } } | { peer: { alarmName: string; region: string } };
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
    /** Non-home stack: the DNS fence alarm it raises when promoted. */
    public readonly fenceAlarm?: aws.cloudwatch.MetricAlarm;
    /** Home stack: the health check on the peer's fence alarm, and endpoint AND fence (the record's check). */
    public readonly fenceHealthCheck?: aws.route53.HealthCheck;
    public readonly recordHealthCheck?: aws.route53.HealthCheck;

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

        let recordCheck = this.healthCheck;
        if ("own" in args.fence) {
            const own = args.fence.own;
            this.fenceAlarm = new aws.cloudwatch.MetricAlarm(
                `${name}-dns-fence`,
                {
                    name: own.alarmName,
                    alarmDescription:
                        `DNS fence of ${args.recordName}: in ALARM while this region (${own.cluster}) is promoted, which makes the home region's ` +
                        `PRIMARY record unhealthy. Nothing publishes ${DNS_FENCE_METRIC.namespace}/${DNS_FENCE_METRIC.metricName}: drstack:role decides it.`,
                    namespace: DNS_FENCE_METRIC.namespace,
                    metricName: DNS_FENCE_METRIC.metricName,
                    dimensions: { [DNS_FENCE_METRIC.dimension]: own.cluster },
                    // Standard resolution (60 s) and a simple statistic: what Route53 alarm health checks accept.
                    statistic: "Maximum",
                    period: 60,
                    evaluationPeriods: 1,
                    threshold: 1,
                    comparisonOperator: "GreaterThanOrEqualToThreshold",
                    treatMissingData: own.raised ? "breaching" : "notBreaching",
                    tags: args.tags,
                },
                { parent: this },
            );
        } else {
            const peer = args.fence.peer;
            this.fenceHealthCheck = new aws.route53.HealthCheck(
                `${name}-fence-health-check`,
                {
                    type: "CLOUDWATCH_METRIC",
                    cloudwatchAlarmName: peer.alarmName,
                    cloudwatchAlarmRegion: peer.region,
                    // The peer region lost: keep the last state (the fence neither rises nor falls by itself).
                    insufficientDataHealthStatus: "LastKnownStatus",
                    tags: { ...args.tags, Name: `${args.setIdentifier} DNS fence ${peer.alarmName} (${peer.region})` },
                },
                { parent: this },
            );
            recordCheck = this.recordHealthCheck = new aws.route53.HealthCheck(
                `${name}-record-health-check`,
                {
                    type: "CALCULATED",
                    childHealthchecks: [this.healthCheck.id, this.fenceHealthCheck.id],
                    // Healthy only when both children are: the endpoint answers AND the fence is down.
                    childHealthThreshold: 2,
                    tags: { ...args.tags, Name: `${args.setIdentifier} ${args.endpoint} and not fenced` },
                },
                { parent: this },
            );
        }

        const alias = args.endpointType === "alias";
        this.record = new aws.route53.Record(
            `${name}-record`,
            {
                zoneId: args.zoneId,
                name: args.recordName,
                type: alias ? "A" : "CNAME",
                setIdentifier: args.setIdentifier,
                failoverRoutingPolicies: [{ type: args.failover }],
                healthCheckId: recordCheck.id,
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

        this.registerOutputs({ healthCheckId: recordCheck.id, recordFqdn: this.record.fqdn, fenceAlarm: this.fenceAlarm?.name });
    }
}
