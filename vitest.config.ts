import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Tests start real servers on loopback and count processes and descriptors:
    // running files one at a time keeps those counts about one server.
    fileParallelism: false,
  },
});
