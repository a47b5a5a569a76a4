// Tests run the program exactly as the offline policy check does (tools/offline/program.ts).
export * from "../../tools/offline/program";
