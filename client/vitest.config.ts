import { defineConfig } from "vitest/config";

// Unit tests: no network, fake sockets and fetch, fake timers where time matters.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
  },
});
