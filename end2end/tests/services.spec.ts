import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect, test } from "@playwright/test";
import { OPENAI_IMAGE, startEngine, unavailable, type Engine } from "./dockerd";
import { startServer, type Server } from "./servers";

// The services page against a real Docker engine (a private dockerd) running the OpenAI-compatible double:
// asked for the token once, it shows a service's state, models, memory, loading progress, use and log, and
// its buttons start, restart and stop the container.

let engine: Engine | undefined;
let server: Server | undefined;
let dir: string | undefined;

test.afterEach(async () => {
  await server?.stop();
  await engine?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
  server = engine = dir = undefined;
});

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const port = (probe.address() as { port: number }).port;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

test("the services page shows a model service's state, use and log, and starts, restarts and stops it", async ({ page }, info) => {
  const why = unavailable();
  if (why && process.env.TSUZUKI_REQUIRE_DOCKER === "1") throw new Error(`no Docker engine: ${why}`);
  test.skip(why !== null, `no Docker engine: ${why}`);
  test.setTimeout(180_000);
  engine = await startEngine();
  dir = mkdtempSync(path.join(tmpdir(), "tsuzuki-e2e-services-"));
  const config = path.join(dir, "tsuzuki.yaml");
  const service = {
    id: "chat", image: OPENAI_IMAGE, network: "host", port: await freePort(), models: ["chat"],
    command: ["--host", "127.0.0.1", "--port", "${PORT}", "--model", "chat", "--startup-delay-ms", "4000"],
    startup_timeout_seconds: 60, stop_timeout_seconds: 3, gpu_memory_gb: 6,
  };
  writeFileSync(config, JSON.stringify({ gpu_memory_budget_gb: 12, services: [service] }));
  server = await startServer(["--config", config, "--docker-host", engine.host, "--api-token", "s3cret"]);

  // Found from the player; asked for the token once.
  await page.goto(server.url);
  await page.getByRole("link", { name: "Services" }).click();
  await expect(page).toHaveURL(`${server.url}/services`);
  await expect(page.locator("#access-message")).toContainText("needs its access token");
  await page.fill("#token", "s3cret");
  await page.click("#access button[type=submit]");
  const card = page.locator('[data-service="chat"]');
  const badge = card.locator(".badge");
  await expect(badge).toHaveText("stopped");
  await expect(card.locator(".service-models")).toHaveText("Models: chat");
  await expect(card.locator(".memory-label")).toHaveText("6.0 GB of the 12.0 GB budget (declared)");
  await expect(card.locator(".last-used")).toHaveText("never used");
  await expect(page.locator("#gpu-summary")).toContainText("0.0 GB claimed of a 12.0 GB budget, as declared");
  await expect(card.locator('button[data-action="stop"]')).toBeDisabled();

  // Start: the loading shows how long it has taken and what the server last said.
  await card.locator('button[data-action="start"]').click();
  await expect(badge).toHaveText("starting");
  await expect(card.locator(".starting-line")).toContainText("loading model");
  await expect(card.locator(".starting-progress")).toContainText(/Starting: .*\d+ s/);
  await expect(badge).toHaveText("ready", { timeout: 60_000 });
  await expect(card.locator(".uptime")).toContainText(/up \d+ s/);
  await expect(page.locator("#gpu-summary")).toContainText("6.0 GB claimed");
  const first = (await card.locator(".service-image").textContent())?.match(/container (\w+)/)?.[1];
  expect(first).toBeTruthy();

  // A request through the proxy shows in the statistics, the last use and the log.
  const reply = await fetch(`${server.url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: "Bearer s3cret", "content-type": "application/json" },
    body: JSON.stringify({ model: "chat", messages: [{ role: "user", content: "three little words" }] }),
  });
  expect(reply.status).toBe(200);
  await expect(card.locator(".usage dd").first()).toHaveText("1 (1 in the last hour)");
  await expect(card.locator(".usage")).toContainText(/Tokens in \/ out\d+ \/ [1-9]/);
  await expect(card.locator(".last-used")).toContainText(/last used (just now|\d+ s ago)/);
  await expect(card.locator(".log")).toContainText("request POST /v1/chat/completions model=chat");
  await page.screenshot({ path: info.outputPath("services.png"), fullPage: true });

  // Restart: a new container, ready again.
  await card.locator('button[data-action="restart"]').click();
  await expect(card.locator(".service-image")).not.toContainText(`container ${first}`, { timeout: 60_000 });
  await expect(badge).toHaveText("ready", { timeout: 60_000 });

  // Stop.
  await card.locator('button[data-action="stop"]').click();
  await expect(badge).toHaveText("stopped", { timeout: 30_000 });
  await expect(card.locator('button[data-action="start"]')).toBeEnabled();

  // The token was kept: the page does not ask again.
  await page.reload();
  await expect(badge).toHaveText("stopped");
  await expect(page.locator("#access")).toHaveCount(0);
});
