// The drstack CrossGuard policy pack. This file alone constructs the PolicyPack (constructing
// one starts the policy server), so tests and the offline check import ./all, never this file.
import { PolicyPack } from "@pulumi/policy";
import { allPolicies } from "./all";

new PolicyPack("drstack", {
    description: "Every setting that bounds data loss stays within the declared RPO.",
    enforcementLevel: "mandatory",
    policies: allPolicies,
});
