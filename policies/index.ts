// The drstack CrossGuard policy pack. This file alone constructs the PolicyPack (constructing
// one starts the policy server), so tests import the policy modules, never this file.
// The policy modules (one per concern) arrive with the policy-pack issue; until then the pack
// is empty and enforces nothing.
import { PolicyPack } from "@pulumi/policy";

new PolicyPack("drstack", {
    policies: [],
});
