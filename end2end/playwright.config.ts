import { defineConfig } from "@playwright/test";

// `cargo leptos end-to-end` starts the server and runs this at once; global-setup waits for it.
export default defineConfig({
  testDir: "./tests",
  globalSetup: "./global-setup.ts",
  timeout: 120_000,
  expect: { timeout: 30_000 },
  fullyParallel: false,
  workers: 1,
  // These machines are shared: one retry keeps a load spike (a Web Audio render quantum dropped by an
  // overloaded Chromium) from blocking a landing, and Playwright still reports such a test as flaky.
  retries: 1,
  reporter: [["list"]],
  use: {
    baseURL: process.env.TSUZUKI_URL ?? "http://127.0.0.1:3000",
    trace: "retain-on-failure",
    // The page's service worker would hide requests from route interception; the test of the worker
    // itself allows it.
    serviceWorkers: "block",
    launchOptions: {
      // Debian's Chromium; Playwright's own browser download cannot work offline.
      executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
      args: [
        "--no-sandbox",
        "--headless",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--autoplay-policy=no-user-gesture-required",
      ],
    },
  },
});
