// The database roles the backup jobs and monitoring use, and where their passwords live.
//
// jobRoleCredentials(): on every deploy, with no connection to the database, each role gets a
// password from @pulumi/random kept in a Kubernetes Secret of type kubernetes.io/basic-auth
// labelled cnpg.io/reload, and a CloudNativePG managed role (`spec.managed.roles` of the Cluster,
// CNPG docs/src/declarative_role_management.md @v1.30.0) that the operator creates with that password.
//
// Failover: roles are applied on the primary cluster only; a replica cluster receives them
// (with their password hashes) through WAL. Each stack generates its own password, and the only
// connection that uses one (the logical backup) runs in the primary stack against its own
// cluster. While a cluster is primary, the operator sets the role's password from its own
// stack's Secret; when the other stack is promoted, its operator reconciles the same role with
// the other stack's Secret, and that stack's logical backup uses that Secret. So the password in
// the database always matches the Secret of the stack whose jobs connect; a demoted cluster's
// stale Secret is never used to connect (its logical backup is not declared).
//
// DatabaseGrants: what only a connection can do (@pulumi/postgresql), opt-in with
// drstack:database.manageGrants: CONNECT on the backed-up databases for the verification role,
// for databases that revoked CONNECT from PUBLIC.

import * as k8s from "@pulumi/kubernetes";
import * as postgresql from "@pulumi/postgresql";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { clusterObjectNames, CNPG_LABELS, COMPONENT_TYPES } from "../../model/contract";

/** A CloudNativePG managed role (the Cluster CRD's spec.managed.roles[] item, the fields we set). */
export interface ManagedRoleSpec {
    name: string;
    ensure: "present";
    login: true;
    inRoles: string[];
    connectionLimit: number;
    passwordSecret: { name: string };
}

export interface JobRoleCredentials {
    /** For the Cluster's spec.managed.roles. */
    managedRoles: ManagedRoleSpec[];
    secrets: k8s.core.v1.Secret[];
    secretNames: { monitoring: string; verification: string };
}

export interface JobRolesArgs {
    clusterName: string;
    namespace: pulumi.Input<string>;
    /** Role with pg_monitor. */
    monitoringRole: string;
    /** Role with pg_read_all_data: the logical backup's default credentials. */
    verificationRole: string;
}

/** Predefined roles each job role is a member of (PostgreSQL docs, "Predefined Roles"). */
export const JOB_ROLE_MEMBERSHIPS = { monitoring: ["pg_monitor"], verification: ["pg_read_all_data"] } as const;

export function jobRoleCredentials(name: string, args: JobRolesArgs, opts: pulumi.CustomResourceOptions): JobRoleCredentials {
    const names = clusterObjectNames(args.clusterName);
    const secretNames = { monitoring: names.monitoringCredentials, verification: names.verificationCredentials };
    const roles = [
        { key: "monitoring", role: args.monitoringRole, secret: secretNames.monitoring, inRoles: [...JOB_ROLE_MEMBERSHIPS.monitoring] },
        { key: "verification", role: args.verificationRole, secret: secretNames.verification, inRoles: [...JOB_ROLE_MEMBERSHIPS.verification] },
    ];
    const secrets = roles.map(({ key, role, secret }) => {
        const generated = new random.RandomPassword(`${name}-${key}-password`, { length: 32, special: false }, { parent: opts.parent });
        return new k8s.core.v1.Secret(
            `${name}-${key}-credentials`,
            {
                metadata: { name: secret, namespace: args.namespace, labels: { [CNPG_LABELS.reload.key]: CNPG_LABELS.reload.value } },
                type: "kubernetes.io/basic-auth",
                // Marked secret here as well: the engine does it for RandomPassword.result, but the value
                // must never depend on that to stay out of plaintext state.
                stringData: { username: role, password: pulumi.secret(generated.result) },
            },
            { ...opts, additionalSecretOutputs: ["data", "stringData"] },
        );
    });
    const managedRoles: ManagedRoleSpec[] = roles.map(({ role, secret, inRoles }) => ({
        name: role,
        ensure: "present",
        login: true,
        inRoles,
        connectionLimit: 5,
        passwordSecret: { name: secret },
    }));
    return { managedRoles, secrets, secretNames };
}

export interface DatabaseGrantsArgs {
    /** Address of the primary, reachable from where `pulumi up` runs. */
    host: string;
    port: number;
    /** An administrative role that may grant on the databases. */
    username: string;
    /** Its password: a Pulumi secret. */
    password: pulumi.Input<string>;
    sslmode: string;
    /** The role that connects to dump the databases. */
    verificationRole: string;
    databases: string[];
}

export class DatabaseGrants extends pulumi.ComponentResource {
    public readonly grants: postgresql.Grant[];

    constructor(name: string, args: DatabaseGrantsArgs, opts?: pulumi.ComponentResourceOptions) {
        super(COMPONENT_TYPES.databaseRoles, name, args, opts);
        const provider = new postgresql.Provider(
            `${name}-provider`,
            { host: args.host, port: args.port, username: args.username, password: pulumi.secret(args.password), sslmode: args.sslmode, superuser: false },
            { parent: this },
        );
        this.grants = args.databases.map(
            (database) =>
                new postgresql.Grant(
                    `${name}-connect-${database}`,
                    { database, role: args.verificationRole, objectType: "database", privileges: ["CONNECT"] },
                    { parent: this, provider },
                ),
        );
        this.registerOutputs({ databases: args.databases });
    }
}
