// Tests use the same Pulumi mocks as the offline policy check (tools/offline/mocks.ts).
export * from "../../tools/offline/mocks";
