// parseConfig: a flat config map in, a validated and derived DrConfig out, or a ConfigError that
// lists every problem with the setting to change. Pure: the policy check, the drill and the tests
// read Pulumi.<stack>.yaml through it exactly as `pulumi up` does (config/pulumi.ts).

import { runChecks } from "./checks";
import { derive, DrConfig, scheduleIntervals } from "./derive";
import { REGION, show } from "./fields";
import { describeIssue, FlatConfig, SecretKeyPredicate, unflatten } from "./flat";
import { ConfigError, render } from "./problem";
import { schema } from "./schema";

/**
 * Parses and validates a stack's flat config; throws ConfigError listing every problem.
 * `nowMs` is the clock restore targets are judged against (not in the future, inside the window).
 */
export function parseConfig(flat: FlatConfig, stack: string, isSecret: SecretKeyPredicate = () => false, nowMs: number = Date.now()): DrConfig {
    const { values, region } = unflatten(flat);
    const problems: string[] = [];
    if (region === undefined || region === "") {
        problems.push("aws:region is required (the region this stack deploys to), e.g. `pulumi config set aws:region us-east-1`");
    } else if (!REGION.test(region)) {
        problems.push(`aws:region: ${show(region)} is not an AWS region name like us-east-1`);
    }
    const result = schema.safeParse(values, { reportInput: true });
    if (!result.success) {
        problems.push(...result.error.issues.map(describeIssue));
    }
    if (problems.length > 0 || !result.success) {
        throw new ConfigError(stack, problems);
    }
    const intervals = scheduleIntervals(result.data);
    problems.push(...runChecks(result.data, { region: region!, isSecret, intervals, nowMs }).map(render));
    if (problems.length > 0) {
        throw new ConfigError(stack, problems);
    }
    return derive(result.data, region!, stack, intervals);
}
