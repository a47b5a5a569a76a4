// DR alerting for one region: the PrometheusRule (rules from components/monitoring/alertRules.ts), the
// CloudWatch alarms on S3 replication, the SNS topics they notify (one in the stack's region,
// one in us-east-1 for Route53 health-check alarms, which can only notify topics in their own
// region), and the Grafana dashboard ConfigMap.

import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { RuleGroup } from "./alertRules";
import { ROUTE53_METRICS_REGION } from "../dns/failoverRecord";
import { CLOUDWATCH_ALARMS } from "../../model/alertCatalog";
import { clusterObjectNames, COMPONENT_TYPES } from "../../model/contract";

export interface DrAlertsArgs {
    /** Cluster name: names the PrometheusRule and the dashboard. */
    clusterName: string;
    /** Namespace for the PrometheusRule and the dashboard ConfigMap. */
    namespace: pulumi.Input<string>;
    /** Rule groups, a pure function of the stack config. */
    ruleGroups: RuleGroup[];
    /** Labels the Prometheus operator's ruleSelector matches. */
    ruleLabels: Record<string, string>;
    /** The stack's region (topics and S3 replication metrics live there). */
    region: string;
    /** SNS subscriptions for every topic. */
    notify: { protocol: string; endpoint: string }[];
    /** The replication rule to watch, while this stack replicates. */
    replication?: { sourceBucket: pulumi.Input<string>; destinationBucket: string; ruleId: string; latencyThresholdSeconds: number };
    /** Grafana dashboard JSON (omit to ship none). */
    dashboard?: Record<string, unknown>;
    tags?: Record<string, string>;
}

export class DrAlerts extends pulumi.ComponentResource {
    public readonly topic: aws.sns.Topic;
    /** The us-east-1 topic for Route53 health-check alarms (the same topic when the stack is in us-east-1). */
    public readonly healthCheckTopic: aws.sns.Topic;
    public readonly prometheusRule: k8s.apiextensions.CustomResource;

    constructor(name: string, args: DrAlertsArgs, opts?: pulumi.ComponentResourceOptions) {
        super(COMPONENT_TYPES.alerts, name, args, opts);

        this.topic = this.topicWithSubscriptions(`${name}-topic`, args.region, args);
        this.healthCheckTopic =
            args.region === ROUTE53_METRICS_REGION ? this.topic : this.topicWithSubscriptions(`${name}-topic-${ROUTE53_METRICS_REGION}`, ROUTE53_METRICS_REGION, args);

        this.prometheusRule = new k8s.apiextensions.CustomResource(
            `${name}-prometheus-rule`,
            {
                apiVersion: "monitoring.coreos.com/v1",
                kind: "PrometheusRule",
                metadata: { name: clusterObjectNames(args.clusterName).prometheusRule, namespace: args.namespace, labels: args.ruleLabels },
                spec: { groups: args.ruleGroups },
            },
            { parent: this },
        );

        if (args.replication) {
            const r = args.replication;
            const dimensions = { SourceBucket: r.sourceBucket, DestinationBucket: r.destinationBucket, RuleId: r.ruleId };
            const alarm = (suffix: keyof typeof CLOUDWATCH_ALARMS, metricName: string, statistic: string, threshold: number, description: string) =>
                new aws.cloudwatch.MetricAlarm(
                    `${name}-${suffix}`,
                    {
                        alarmDescription: description,
                        namespace: "AWS/S3",
                        metricName,
                        dimensions,
                        statistic,
                        period: 300,
                        evaluationPeriods: 1,
                        threshold,
                        comparisonOperator: "GreaterThanThreshold",
                        treatMissingData: "notBreaching",
                        alarmActions: [this.topic.arn],
                        okActions: [this.topic.arn],
                        tags: args.tags,
                    },
                    { parent: this },
                );
            alarm("replication-latency", CLOUDWATCH_ALARMS["replication-latency"].metric, "Maximum", r.latencyThresholdSeconds,
                `S3 replication to ${r.destinationBucket} is slower than the RTC bound: WAL reaches the standby region late`);
            alarm("replication-failures", CLOUDWATCH_ALARMS["replication-failures"].metric, "Sum", 0,
                `S3 replication to ${r.destinationBucket} failed for some objects: the standby region is missing backups or WAL`);
        }

        if (args.dashboard) {
            new k8s.core.v1.ConfigMap(
                `${name}-dashboard`,
                {
                    // The Grafana sidecar loads every ConfigMap labelled grafana_dashboard.
                    metadata: { name: clusterObjectNames(args.clusterName).dashboardConfigMap, namespace: args.namespace, labels: { grafana_dashboard: "1" } },
                    data: { [`${args.clusterName}-dr.json`]: JSON.stringify(args.dashboard) },
                },
                { parent: this },
            );
        }

        this.registerOutputs({ topicArn: this.topic.arn, healthCheckTopicArn: this.healthCheckTopic.arn });
    }

    private topicWithSubscriptions(name: string, region: string, args: DrAlertsArgs): aws.sns.Topic {
        // Not KMS-encrypted: CloudWatch cannot publish to topics under the AWS-managed SNS key,
        // and alert texts carry no data.
        const topic = new aws.sns.Topic(name, { region, tags: args.tags }, { parent: this });
        args.notify.forEach((n, i) => {
            new aws.sns.TopicSubscription(`${name}-subscription-${i}`, { region, topic: topic.arn, protocol: n.protocol, endpoint: n.endpoint }, { parent: this });
        });
        return topic;
    }
}
