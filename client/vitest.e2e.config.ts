import { defineConfig } from "vitest/config";

// Browser end to end: the real auction-local binary and Debian's Chromium, one file at a time.
export default defineConfig({
  test: {
    include: ["e2e/**/*.e2e.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
});
