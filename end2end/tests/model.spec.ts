import { expect, test, type Page } from "@playwright/test";
import { open } from "./page";
import { startDouble, startServer, type Double, type Server } from "./servers";
import { analyse, expectNoClick, installTap, telemetry } from "./tap";

// The model as it is today (the double in `current` mode: every file peak-normalised, models loaded
// lazily), heard through the page: joins that keep their level, and the embedded synthesizer covering
// every wait for the model.

let server: Server | undefined;
let double: Double | undefined;

test.beforeEach(async ({ page }) => {
  await installTap(page);
  page.on("console", (message) => {
    if (message.type() === "error") console.log(`browser: ${message.text()}`);
  });
});

test.afterEach(async () => {
  await server?.stop();
  await double?.stop();
  server = double = undefined;
});

const ACESTEP = ["--backend", "acestep", "--acestep-model", "acestep-v15-turbo", "--poll-interval-ms", "50"];

async function status(url: string) {
  return (await fetch(`${url}/session/status`)).json();
}

async function until(what: string, done: () => Promise<boolean>, seconds: number) {
  await expect.poll(done, { message: what, timeout: seconds * 1000, intervals: [250] }).toBe(true);
}

async function switches(page: Page) {
  return (await telemetry(page)).switches;
}

/** The segments the server sent marked as not continuing the music before them (`X-Join-Correlated`). */
function different(page: Page) {
  const indices = new Set<number>();
  page.on("response", (reply) => {
    const headers = reply.headers();
    if (reply.url().includes("/audio/") && headers["x-join-correlated"] === "false") {
      indices.add(Number(headers["x-segment-index"]));
    }
  });
  return indices;
}

/** Waits until the crossfade into segment `index` has been heard and `after` seconds more. */
async function heardPast(page: Page, index: number, after: number, seconds: number) {
  await until(
    `the crossfade into segment ${index} and ${after} s after it`,
    () =>
      page.evaluate(
        ([index, after]) => {
          const w = window as unknown as {
            tsuzukiTelemetry?: { crossfades: { index: number; end: number }[] };
            __tap: { blocks: { time: number }[] };
          };
          const fade = w.tsuzukiTelemetry?.crossfades.find((c) => c.index === index);
          const now = w.__tap.blocks.at(-1)?.time ?? 0;
          return fade !== undefined && now > fade.end + after;
        },
        [index, after],
      ),
    seconds,
  );
}

/** Every join into a segment the server marked as different music is crossfaded with equal power, and only those. */
function expectCurves(crossfades: { index: number; hold: boolean; equalPower: boolean }[], marked: Set<number>) {
  for (const c of crossfades.filter((c) => !c.hold)) {
    expect(c.equalPower, `the curve of the crossfade into ${c.index}`).toBe(marked.has(c.index));
  }
}

test("today's ACE-Step: every join keeps its level, and an overlap the model changed crossfades with equal power", async ({ page }) => {
  test.setTimeout(150_000);
  double = await startDouble(["--mode", "current", "--level-jitter-db", "9"]);
  // A 6 s overlap leaves a second of shared music before each 4 s crossfade, where the levels are compared.
  server = await startServer([...ACESTEP, "--acestep-url", double.url, "--segment-seconds", "12", "--overlap-seconds", "6"]);
  const marked = different(page);
  await open(page, server.url);
  await page.locator("#play").click();
  await expect(page.locator("#state")).toHaveText("playing");
  await until("the model plays", async () => (await status(server!.url)).backend.active === "acestep", 60);
  const before = await switches(page);
  await until("three joins on the model", async () => (await switches(page)) >= before + 3, 60);
  const first = Math.max(...marked);
  await double.faults({ alter_overlap_next: 1 });
  await until("a changed overlap", async () => Math.max(...marked) > first, 60);
  await heardPast(page, Math.max(...marked), 3, 60);
  const heard = await analyse(page);
  console.log(JSON.stringify(heard.crossfades));
  expect(heard.discontinuities).toBe(0);
  expectNoClick(heard);
  expect(heard.silentWindows, "no silent 50 ms window").toBe(0);
  const joins = heard.crossfades.filter((c) => !c.hold);
  const matched = joins.filter((c) => !c.equalPower && c.joinStepDb !== null);
  expect(matched.length).toBeGreaterThanOrEqual(3);
  for (const c of matched) {
    expect(Math.abs(c.joinStepDb!), `level step at the join into ${c.index}`).toBeLessThan(0.1);
  }
  // The move from the synthesizer to the model, and the overlap the fault changed.
  expect(joins.filter((c) => c.equalPower).length).toBeGreaterThanOrEqual(2);
  expectCurves(joins, marked);
  // Every crossfade, the move from the synthesizer to the model included, sounds as loud as its two
  // sources do on their own at the same moments.
  for (const c of joins) {
    expect(Math.abs(c.levelDiffDb), `loudness through the crossfade into ${c.index}`).toBeLessThanOrEqual(1);
  }
});

test("a cold, slow model: sound within 2 s of Play, and the move to the model has no silent moment", async ({ page }) => {
  test.setTimeout(120_000);
  double = await startDouble(["--mode", "current", "--model-load-ms", "10000", "--first-delay-ms", "20000"]);
  server = await startServer([...ACESTEP, "--acestep-url", double.url, "--segment-seconds", "8", "--overlap-seconds", "2"]);
  const marked = different(page);
  await open(page, server.url);
  const pressed = await page.evaluate(() => performance.now());
  await page.locator("#play").click();
  await until(
    "first sound",
    () => page.evaluate(() => (window as any).__tap.blocks.some((b: { left: Float32Array }) => b.left.some((s) => Math.abs(s) > 1e-3))),
    10,
  );
  const firstSound = await page.evaluate(
    () => (window as any).__tap.blocks.find((b: { left: Float32Array }) => b.left.some((s) => Math.abs(s) > 1e-3)).at,
  );
  console.log(`first sound ${(firstSound - pressed).toFixed(0)} ms after Play`);
  expect(firstSound - pressed, "ms from Play to the first sound").toBeLessThan(2_000);
  await expect(page.locator("#generator")).toContainText("Embedded synthesizer while the model");
  await until("the model plays", async () => (await status(server!.url)).backend.active === "acestep", 90);
  await expect(page.locator("#generator")).toContainText("ACE-Step acestep-v15-turbo");
  // The model's first segment is the newest one marked as different music (segment 0 is the first).
  await until("the model's segment downloaded", async () => Math.max(...marked) > 0, 30);
  await heardPast(page, Math.max(...marked), 2.5, 40);
  const heard = await analyse(page);
  expect(heard.discontinuities).toBe(0);
  expectNoClick(heard);
  expect(heard.silentWindows, `silent 50 ms windows (quietest ${heard.quietestDb.toFixed(1)} dB)`).toBe(0);
  expect(heard.crossfades.some((c) => c.equalPower && !c.hold), "the move crossfades as different music").toBe(true);
  expectCurves(heard.crossfades, marked);
});

test("the model dies mid-session: the synthesizer carries on, and the model returns when it answers", async ({ page }) => {
  test.setTimeout(150_000);
  double = await startDouble(["--mode", "current"]);
  server = await startServer([
    ...ACESTEP, "--acestep-url", double.url, "--segment-seconds", "8", "--overlap-seconds", "2",
    "--max-attempts", "2", "--retry-backoff-ms", "100",
  ]);
  await open(page, server.url);
  await page.locator("#play").click();
  await expect(page.locator("#state")).toHaveText("playing");
  await until("the model plays", async () => (await status(server!.url)).backend.active === "acestep", 60);
  await double.stop();
  await until("the synthesizer stands in", async () => (await status(server!.url)).backend.active === "synth", 60);
  expect((await status(server.url)).backend.bridge_reason).toBe("unreachable");
  await expect(page.locator("#generator")).toContainText("cannot be reached");
  const during = await switches(page);
  await until("the music goes on", async () => (await switches(page)) >= during + 2, 40);
  await expect(page.locator("#state")).toHaveText("playing");
  await double.start();
  await until("the model returns", async () => (await status(server!.url)).backend.active === "acestep", 60);
  const back = await switches(page);
  await until("a join onto the model", async () => (await switches(page)) >= back + 1, 30);
  await page.waitForTimeout(2_000);
  const heard = await analyse(page);
  expect(heard.discontinuities).toBe(0);
  expectNoClick(heard);
  expect(heard.silentWindows, `silent 50 ms windows (quietest ${heard.quietestDb.toFixed(1)} dB)`).toBe(0);
  expect((await telemetry(page)).holds, "nothing was late").toBe(0);
});
