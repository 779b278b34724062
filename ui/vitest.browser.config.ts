// Browser tests: Playwright (playwright-core) drives Debian's chromium against the real
// server binary on a seeded database. `npm run test:browser`; MODELGRAPH_BIN names the
// binary, CHROMIUM the browser (default /usr/bin/chromium).
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts"],
    environment: "node",
    testTimeout: 60_000,
    hookTimeout: 120_000,
    fileParallelism: false,
    sequence: { concurrent: false },
  },
});
