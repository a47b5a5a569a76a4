// What the tests that check every workload the stack declares share: the program runs that cover every
// shape those workloads come in, and where a Deployment's or CronJob's pod spec is.
import { Declared, RunOptions } from "./program";
import { DEMOTED_PRIMARY_PEER, PROMOTE_DR } from "./promotion";

/** [title, stack, overrides, run options]: both shipped stacks, and the DR stack promoted by a planned switchover. */
export const WORKLOAD_SHAPES: [string, string, Record<string, unknown>, RunOptions?][] = [
    ["primary as shipped", "primary", {}],
    ["dr as shipped", "dr", {}],
    ["dr promoted by a planned switchover (its logical backup is declared there)", "dr", PROMOTE_DR, DEMOTED_PRIMARY_PEER],
];

/** The pod spec of a Deployment or a CronJob (its job template's). */
export function podSpec(workload: Declared): any {
    const spec = workload.inputs.spec;
    return (spec.jobTemplate?.spec ?? spec).template.spec;
}
