import { expect, test, type Page } from "@playwright/test";
import { open, reload } from "./page";
import { startCuttingProxy, startDouble, startServer, type Double, type Proxy, type Server } from "./servers";
import { analyse, decodedSegments, expectNoClick, installTap, telemetry } from "./tap";

test.beforeEach(async ({ page }) => {
  await installTap(page);
  // Tests on the shared server start from no session (a page that finds one joins it).
  await page.request.post("/session/stop");
  page.on("console", (message) => {
    if (message.type() === "error") console.log(`browser: ${message.text()}`);
  });
});

async function play(page: Page, url = "/") {
  await open(page, url);
  await page.locator("#play").click();
  await expect(page.locator("#state")).toHaveText("playing");
}

async function until(page: Page, what: string, done: (t: Awaited<ReturnType<typeof telemetry>>) => boolean, seconds: number) {
  await expect.poll(async () => done(await telemetry(page)), { message: what, timeout: seconds * 1000, intervals: [500] }).toBe(true);
}

/** A window that correlates this well with earlier audio was heard before. */
const REPEATED = 0.99;
/** A change is scheduled 1.5 s before its crossfade: wait for it, the crossfade (up to 5 s) and 2 s more. */
const SETTLE = 9_000;

/** Asserts what a listener would want of everything recorded so far. */
async function expectSeamless(page: Page, { switches }: { switches: number }) {
  const heard = await analyse(page);
  console.log(JSON.stringify(heard));
  expect(heard.discontinuities, "the recording has no holes").toBe(0);
  expect(heard.silentWindows, `silent 50 ms windows (quietest ${heard.quietestDb.toFixed(1)} dB)`).toBe(0);
  expectNoClick(heard);
  const changes = heard.crossfades.filter((c) => !c.hold && !c.restart);
  expect(changes.length).toBeGreaterThanOrEqual(switches);
  for (const c of heard.crossfades) {
    expect(Math.abs(c.levelDiffDb), `loudness through the crossfade into ${c.index}`).toBeLessThanOrEqual(1);
    // After a segment change the music is new; after a hold it is, by design, music heard before.
    if (c.hold) expect(c.repeat, `the hold into ${c.index} replays earlier audio`).toBeGreaterThan(REPEATED);
    else expect(c.repeat, `audio after the change to ${c.index} was not heard before`).toBeLessThan(REPEATED);
  }
  return heard;
}

/** The default server's segments: 8 s with a 2 s overlap. */
const SEGMENT = 8;
const OVERLAP = 2;

/** Every decoded segment, put together from broken-off parts or not, has exactly its frames. */
async function expectExactFrames(page: Page) {
  for (const d of await decodedSegments(page, OVERLAP)) expect(d.frames).toBe(SEGMENT * d.rate);
}

/** Every decoded segment has exactly its frames, and its overlap is the previous tail at the same frame. */
async function expectExact(page: Page, from: number, to: number, { lossless }: { lossless: boolean }) {
  const decoded = (await decodedSegments(page, OVERLAP)).slice(from, to);
  expect(decoded.length).toBeGreaterThanOrEqual(10);
  for (const [i, d] of decoded.entries()) {
    expect(d.frames, `frames of decoded segment ${from + i}`).toBe(SEGMENT * d.rate);
    if (d.correlation === null) continue;
    expect(d.lag, `segment ${from + i}'s overlap lines up with the tail before it`).toBe(0);
    expect(d.correlation, `segment ${from + i}'s overlap is the tail before it`).toBeGreaterThanOrEqual(lossless ? 0.9999 : 0.98);
  }
}

test("ten transitions in FLAC, then data saver mid-stream and ten in Opus: no gap, no click, steady loudness, nothing played twice, overlaps exact", async ({ page }) => {
  test.setTimeout(300_000);
  await play(page);
  await until(page, "eleven segment changes in FLAC", (t) => t.switches >= 11, 150);
  const flac = await telemetry(page);
  expect(flac.format).toBe("flac");
  // Counted before decoding, which empties the downloaded bytes: lossless music is several MB a minute.
  expect(flac.bytesPerMinute).toBeGreaterThan(1.5e6);
  await expect(page.locator("#format")).toContainText("FLAC");
  // Data saver applies from the next download on, while the music plays.
  await page.locator("#data-saver").check();
  await until(page, "ten changes in Opus", (t) => t.format === "opus" && t.switches >= flac.switches + 12, 150);
  await page.waitForTimeout(SETTLE);
  await expectSeamless(page, { switches: 22 });
  const t = await telemetry(page);
  expect(t.holds).toBe(0);
  expect(t.decodedAlive).toBeLessThanOrEqual(3);
  // 128 kb/s is 0.96 MB a minute; the Ogg framing adds a little.
  expect(t.bytesPerMinute).toBeLessThan(1.1e6);
  expect(t.bytesPerMinute).toBeGreaterThan(0.6e6);
  expect(t.bytesReceived).toBeGreaterThan(flac.bytesReceived);
  await expect(page.locator("#format")).toContainText("Opus");
  // Segments up to the eleventh change were FLAC; those from two after the switch were surely Opus.
  await expectExact(page, 0, flac.switches + 1, { lossless: true });
  await expectExact(page, flac.switches + 3, Infinity, { lossless: false });
  await reload(page);
  await expect(page.locator("#data-saver")).toBeChecked();
});

test.describe("with a server of its own", () => {
  let server: Server | undefined;
  let double: Double | undefined;
  let proxy: Proxy | undefined;
  test.afterEach(async () => {
    await proxy?.stop();
    await server?.stop();
    await double?.stop();
    server = double = proxy = undefined;
  });

  test("downloads broken off half-way resume from the byte they reached, and the music never holds", async ({ page }) => {
    test.setTimeout(120_000);
    server = await startServer(["--segment-seconds", "8", "--overlap-seconds", "2"]);
    proxy = await startCuttingProxy(server.url, 200_000);
    await play(page, proxy.url);
    await until(page, "three changes, each segment resumed", (t) => t.switches >= 3 && t.resumes >= 4, 90);
    await page.waitForTimeout(SETTLE);
    await expectSeamless(page, { switches: 3 });
    const t = await telemetry(page);
    expect(t.holds).toBe(0);
    expect(proxy.cuts()).toBeGreaterThanOrEqual(t.resumes);
    await expectExactFrames(page);
  });

  test("every segment response 5-10 s late: still no gap, the prefetch lead widens, and the player moves to Opus", async ({ page }) => {
    test.setTimeout(240_000);
    server = await startServer(["--segment-seconds", "20", "--overlap-seconds", "5"]);
    await page.route("**/audio/*", async (route) => {
      await new Promise((resolve) => setTimeout(resolve, 5_000 + Math.random() * 5_000));
      await route.continue();
    });
    await play(page, server.url);
    await until(page, "three segment changes", (t) => t.switches >= 3, 150);
    await page.waitForTimeout(SETTLE);
    await expectSeamless(page, { switches: 3 });
    const t = await telemetry(page);
    expect(t.lastLatency).toBeGreaterThanOrEqual(5);
    expect(t.lead).toBeGreaterThan(15);
    expect(t.lead).toBeLessThanOrEqual(20);
    // FLAC downloads taking over a third of the 20 s lead move the player to Opus by itself.
    await until(page, "the move to Opus on a slow link", (t) => t.format === "opus", 90);
  });

  test("a generator slower than real time: holds are counted and nothing goes silent", async ({ page }) => {
    test.setTimeout(150_000);
    double = await startDouble(["--delay-ms", "9000"]);
    // Without the bridge: with it, the synthesizer would stand in for the late segments.
    server = await startServer([
      "--no-bridge", "--segment-seconds", "8", "--overlap-seconds", "2",
      "--backend", "acestep", "--acestep-url", double.url, "--acestep-model", "acestep-v15-turbo",
      "--poll-interval-ms", "100",
    ]);
    await play(page, server.url);
    await until(page, "a hold and a join after it", (t) => t.holds >= 1 && t.switches >= 1, 120);
    await page.waitForTimeout(SETTLE);
    const held = (await telemetry(page)).holds;
    await expect(page.locator("#holds")).not.toHaveText("0");
    expect(Number(await page.locator("#holds").textContent())).toBeGreaterThanOrEqual(held);
    // Screen readers hear of it in a polite live region.
    await expect(page.locator("#holds-said")).toHaveText(/^The next segment was late; the music held \(\d+ so far\)\.$/);
    await expectSeamless(page, { switches: 1 });
  });

  test("a prompt change mid-stream says when it applies, and the server uses it from that segment", async ({ page }) => {
    test.setTimeout(120_000);
    double = await startDouble();
    server = await startServer([
      "--no-bridge", "--segment-seconds", "8", "--overlap-seconds", "2",
      "--backend", "acestep", "--acestep-url", double.url, "--acestep-model", "acestep-v15-turbo",
      "--poll-interval-ms", "50",
    ]);
    await open(page, server.url);
    await page.locator("#prompt").fill("bright piano");
    await page.locator("#play").click();
    await expect(page.locator("#state")).toHaveText("playing");
    await page.locator("#prompt").fill("dark rain drone");
    await page.locator("#apply").click();
    await expect(page.locator("#applies")).toContainText("applies from segment");
    const from = Number((await page.locator("#applies").textContent())!.match(/segment (\d+)/)![1]);
    await until(page, `segment ${from} playing`, (t) => (t.segment ?? -1) >= from, 90);
    await expect(page.locator("#applies")).toBeHidden();
    const prompts = (await double.requests()).filter((r) => r.release_task).map((r) => r.release_task!.prompt);
    expect(prompts[from - 1]).toBe("bright piano");
    expect(prompts[from]).toBe("dark rain drone");
  });

  test("a server restart: the player follows the new session and the music holds meanwhile", async ({ page }) => {
    test.setTimeout(120_000);
    server = await startServer(["--segment-seconds", "8", "--overlap-seconds", "2"]);
    await play(page, server.url);
    const before = (await telemetry(page)).sessionId;
    await server.restart();
    await until(page, "a restart into a new session", (t) => t.restarts >= 1 && t.sessionId !== before, 60);
    await until(page, "a segment change after the restart", (t) => t.switches >= 2, 60);
    await expect(page.locator("#state")).toHaveText("playing");
    // The crossfade into the new session, and 2.5 s after it, heard in full.
    await expect
      .poll(
        () =>
          page.evaluate(() => {
            const w = window as unknown as {
              tsuzukiTelemetry: { crossfades: { restart: boolean; end: number }[] };
              __tap: { blocks: { time: number }[] };
            };
            const fade = w.tsuzukiTelemetry.crossfades.find((c) => c.restart);
            return fade !== undefined && (w.__tap.blocks.at(-1)?.time ?? 0) > fade.end + 2.5;
          }),
        { message: "the crossfade into the new session heard", timeout: 30_000 },
      )
      .toBe(true);
    const heard = await analyse(page);
    expect(heard.silentWindows).toBe(0);
    expectNoClick(heard);
  });

  test("an error shows a plain message and Retry recovers once the server does", async ({ page }) => {
    test.setTimeout(90_000);
    double = await startDouble();
    // Without the bridge a failing model is an error the listener sees (with it, the synthesizer plays).
    server = await startServer([
      "--no-bridge", "--backend", "acestep", "--acestep-url", double.url, "--acestep-model", "acestep-v15-turbo",
      "--segment-seconds", "8", "--overlap-seconds", "2", "--poll-interval-ms", "50",
      "--max-attempts", "2", "--retry-backoff-ms", "50",
    ]);
    await double.faults({ fail_next: 100 });
    await open(page, server.url);
    await page.locator("#play").click();
    await expect(page.locator("#state")).toHaveText("error");
    await expect(page.locator("#error")).toContainText("Could not make segment 0 after 2 tries");
    await double.faults({ fail_next: 0 });
    await page.locator("#retry").click();
    await expect(page.locator("#state")).toHaveText("playing");
    await expect(page.locator("#error")).toBeHidden();
  });
});

test("a reload mid-stream rejoins the running session", async ({ page }) => {
  await play(page);
  await until(page, "a segment change", (t) => t.switches >= 1, 60);
  const session = (await telemetry(page)).sessionId;
  await reload(page);
  await expect(page.locator("#state")).toHaveText("playing");
  expect((await telemetry(page)).sessionId).toBe(session);
  await page.waitForTimeout(2_000);
  const heard = await analyse(page);
  expect(heard.seconds).toBeGreaterThan(1.5);
  expect(heard.silentWindows).toBe(0);
  await page.locator("#stop").click();
});
