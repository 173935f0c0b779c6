// The scenarios the electron runner launches VS Code for, one VS Code each (suite/index.ts implements them).
export const ELECTRON_SCENARIOS = ['api-record', 'command-export', 'cli-inbox'] as const;
export type ElectronScenario = (typeof ELECTRON_SCENARIOS)[number];
