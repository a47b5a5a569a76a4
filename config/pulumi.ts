// The Pulumi adapter of parseConfig: the one file of config/ that imports @pulumi/pulumi, so the
// policy pack and the tools can import config/index.ts without the engine.

import * as pulumi from "@pulumi/pulumi";
import { DrConfig } from "./derive";
import { SecretKeyPredicate } from "./flat";
import { parseConfig } from "./parse";

/** Reads and validates the running stack's config. */
export function loadConfig(): DrConfig {
    // isConfigSecret is not in the SDK's typings, but it is how the SDK itself tells secret keys.
    const runtimeConfig = require("@pulumi/pulumi/runtime/config") as { isConfigSecret?: SecretKeyPredicate };
    const isSecret: SecretKeyPredicate = (key) => runtimeConfig.isConfigSecret?.(key) ?? false;
    return parseConfig(pulumi.runtime.allConfig(), pulumi.getStack(), isSecret);
}
