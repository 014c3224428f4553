import AxeBuilder from "@axe-core/playwright";
import { expect, test, type Page } from "@playwright/test";
import { open, reload } from "./page";
import { startServer } from "./servers";
import { analyse, expectNoClick, expectSilentAndIdle, heardDb, installTap } from "./tap";

test.beforeEach(async ({ page }) => {
  await installTap(page);
});

test("the page fits a phone and a wide screen, with nothing cut off", async ({ page }, info) => {
  for (const width of [360, 1280]) {
    await page.setViewportSize({ width, height: 900 });
    await open(page, "/");
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow, `no sideways scrolling at ${width} px`).toBeLessThanOrEqual(0);
    for (const id of ["#play", "#stop", "#prompt", "#timer-minutes", "#save-favourite"]) {
      const box = (await page.locator(id).boundingBox())!;
      expect(box.x, `${id} within the window at ${width} px`).toBeGreaterThanOrEqual(0);
      expect(box.x + box.width).toBeLessThanOrEqual(width);
    }
    await page.screenshot({ path: info.outputPath(`page-${width}px.png`), fullPage: true });
  }
});

test("a preset sets the mood, volume and timer; favourites are saved, renamed, deleted and remembered", async ({ page }) => {
  await open(page, "/");
  await page.locator('[data-mood="Sleep"]').first().click();
  await expect(page.locator("#prompt")).toHaveValue(/dark slow drone/);
  await expect(page.locator('[data-mood="Sleep"]').first()).toHaveAttribute("aria-pressed", "true");
  await expect(page.locator("#volume")).toHaveValue("0.45");
  await expect(page.locator("#timer-minutes")).toHaveValue("45");
  await expect(page.locator("#timer-sleep")).toBeChecked();

  // A name is required, and a refused save changes nothing.
  await page.locator("#save-favourite").click();
  await expect(page.locator("#mood-error")).toHaveText("Give the mood a name.");
  await expect(page.locator(".favourite")).toHaveCount(0);

  await page.locator("#prompt").fill("rainy night jazz piano");
  await page.locator("#favourite-name").fill("Evening");
  await page.locator("#save-favourite").click();
  await expect(page.locator("#mood-error")).toHaveCount(0);
  await expect(page.locator(".favourite")).toHaveCount(1);
  await page.locator("#favourite-name").fill("Morning");
  await page.locator("#save-favourite").click();
  await expect(page.locator(".favourite")).toHaveCount(2);

  // Renaming onto another favourite's name is refused; a free name is taken.
  await page.getByRole("button", { name: "Rename Evening" }).click();
  await page.locator(".new-name").fill("Morning");
  await page.getByRole("button", { name: "Save name" }).click();
  await expect(page.locator("#mood-error")).toHaveText("There is already a favourite named “Morning”.");
  await page.locator(".new-name").fill("Night");
  await page.getByRole("button", { name: "Save name" }).click();
  await expect(page.locator('[data-favourite="Night"]')).toHaveCount(1);

  // Remembered across a reload; applying one brings back its prompt and timer.
  await reload(page);
  await expect(page.locator(".favourite")).toHaveCount(2);
  await page.locator("#prompt").fill("something else");
  await page.locator('[data-favourite="Night"] [data-mood="Night"]').click();
  await expect(page.locator("#prompt")).toHaveValue("rainy night jazz piano");
  await expect(page.locator("#timer-minutes")).toHaveValue("45");
  await page.getByRole("button", { name: "Delete Morning" }).click();
  await expect(page.locator(".favourite")).toHaveCount(1);
  await reload(page);
  await expect(page.locator(".favourite")).toHaveCount(1);

  // A broken stored list is ignored, not fatal.
  await page.evaluate(() => localStorage.setItem("tsuzuki.favourites", "{not json"));
  await reload(page);
  await expect(page.locator(".favourite")).toHaveCount(0);
  await expect(page.locator("#play")).toBeEnabled();
});

test("a one-minute timer: a break softens the music between two chimes, then it fades out and the session ends", async ({ page }) => {
  test.setTimeout(150_000);
  await open(page, "/");
  // Quarter-minute breaks are only reachable through storage (the page offers 25 + 5 and 50 + 10): from
  // the timer's start, focus 0-15 s, a break 15-30 s, focus 30-40 s, the fade 40-60 s (a third of it).
  await page.evaluate(() =>
    localStorage.setItem("tsuzuki.timer", JSON.stringify({ minutes: 1, breaks: { focus: 0.25, rest: 0.25 }, sleep: false })),
  );
  await reload(page);
  await page.locator("#play").click();
  await expect(page.locator("#state")).toHaveText("playing");
  await expect(page.locator("#time-left")).toHaveText(/left · break in 0:1\d/);
  await expect(page.locator("#time-left")).toHaveText(/^Break, 0:\d\d more/, { timeout: 20_000 });
  await expect(page.locator("#notice")).toHaveText("Time is up: the session has ended.", { timeout: 70_000 });
  await expect(page.locator("#state")).toHaveText("idle");
  await expect(page.locator("#time-left")).toHaveCount(0);

  // The timer starts with the audio context, at 0 on its clock.
  const focus = await heardDb(page, 5, 13);
  const rest = await heardDb(page, 20, 29);
  const again = await heardDb(page, 35, 39.5);
  const fading = await heardDb(page, 50, 52);
  const last = await heardDb(page, 59, 59.9);
  console.log(`focus ${focus.toFixed(1)} dB, break ${rest.toFixed(1)}, again ${again.toFixed(1)}, fading ${fading.toFixed(1)}, last ${last.toFixed(1)}`);
  expect(focus).toBeGreaterThan(-40);
  expect(focus - rest, "a break is about 12 dB softer").toBeGreaterThan(9);
  expect(focus - rest).toBeLessThan(15);
  expect(Math.abs(again - focus), "the music comes back after the break").toBeLessThan(3);
  expect(focus - fading, "fading out").toBeGreaterThan(10);
  expect(last, "all but silent at the end").toBeLessThan(-60);
  expect(focus - last, "the fade's last second is 45 dB or more below the music").toBeGreaterThan(45);

  // A chime rings at 880 Hz as the break begins and as it ends, far above the music there.
  for (const at of [15, 30]) {
    const chime = await heardDb(page, at + 0.05, at + 0.55, 880);
    const before = await heardDb(page, at - 1.5, at - 1, 880);
    console.log(`chime at ${at} s: ${chime.toFixed(1)} dB at 880 Hz, ${before.toFixed(1)} before`);
    expect(chime - before, `a chime at ${at} s`).toBeGreaterThan(15);
  }
  const heard = await analyse(page);
  expectNoClick(heard);

  // The session is over on the server too, and its files are gone.
  await expectSilentAndIdle(page);
  expect((await page.request.get("/audio/0.flac")).status()).toBe(409);
});

/** Serious and critical accessibility violations axe finds on the page as it is now. */
async function violations(page: Page) {
  const { violations } = await new AxeBuilder({ page }).analyze();
  for (const v of violations) console.log(`axe ${v.impact}: ${v.id} (${v.nodes.length}) ${v.help}`);
  return violations.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => `${v.id}: ${v.help}`);
}

test("the calm view: the mood, time left and a glow that follows the music; keyboard and axe find no barrier", async ({ page }) => {
  await open(page, "/");
  expect(await violations(page), "the main view").toEqual([]);
  await page.locator("#prompt").fill("calm piano, soft rain");
  await page.locator('[data-minutes="25"]').click();
  await page.locator("#play").click();
  await expect(page.locator("#state")).toHaveText("playing");

  await page.locator("#calm").click();
  await expect(page.locator("#calm-view")).toBeVisible();
  await expect(page.locator("main")).toBeHidden();
  await expect(page.locator("#details"), "focus moves into the calm view").toBeFocused();
  await expect(page.locator(".calm-mood")).toHaveText("calm piano, soft rain");
  await expect(page.locator(".calm-time")).toHaveText(/^2\d:\d\d left$/);
  // The glow follows the music's loudness (about -18 dBFS here: 0.7 on its 0-1 scale).
  await expect
    .poll(async () => Number(await page.locator("#calm-view").getAttribute("data-level")), { timeout: 10_000 })
    .toBeGreaterThan(0.4);
  expect(await violations(page), "the calm view").toEqual([]);

  await page.keyboard.press("Escape");
  await expect(page.locator("#calm-view")).toHaveCount(0);
  await expect(page.locator("#calm"), "focus returns to the button that opened it").toBeFocused();
  await page.locator("#stop").click();
  await expect(page.locator("#state")).toHaveText("idle");
});

test("the synthesizer says what it made of the mood, and focus modulation is a setting the session follows", async ({ page }) => {
  await open(page, "/");
  await page.locator("#prompt").fill("rain, piano, 84 bpm and a kazoo");
  await page.locator("#play").click();
  await expect(page.locator("#state")).toHaveText("playing");
  await expect(page.locator("#heard")).toHaveText("heard: rain, piano, 84 bpm · not understood: kazoo");

  await expect(page.locator("#focus-modulation")).toHaveValue("off");
  await page.locator("#focus-modulation").selectOption("medium");
  const focus = async () => (await (await page.request.get("/session/status")).json()).focus_modulation;
  await expect.poll(focus, { message: "the session follows the setting" }).toBe("medium");

  // A new mood gets its own account.
  await page.locator("#prompt").fill("jazz, no drums");
  await page.locator("#apply").click();
  await expect(page.locator("#heard")).toHaveText("heard: jazz, no drums");
  await page.locator("#stop").click();
  await expect(page.locator("#state")).toHaveText("idle");
  await expect(page.locator("#heard"), "nothing to account for without a session").toHaveCount(0);

  // Remembered, and sent with the next Play.
  await reload(page);
  await expect(page.locator("#focus-modulation")).toHaveValue("medium");
  await page.locator("#play").click();
  await expect(page.locator("#state")).toHaveText("playing");
  expect(await focus()).toBe("medium");
  await page.locator("#stop").click();
  await expect(page.locator("#state")).toHaveText("idle");
});

test.describe("offline", () => {
  test.use({ serviceWorkers: "allow" });

  test("installable: a manifest, icons, and a service worker that opens the page while the server is down and reconnects", async ({ page }) => {
    const server = await startServer(["--segment-seconds", "8", "--overlap-seconds", "2"]);
    try {
      await open(page, `${server.url}/`);
      await expect(page.locator(".masthead svg.kanji"), "the kanji are outlines, not a font").toBeVisible();
      const manifest = await (await page.request.get(`${server.url}/manifest.webmanifest`)).json();
      expect(manifest.display).toBe("standalone");
      for (const icon of manifest.icons) {
        const reply = await page.request.get(`${server.url}${icon.src}`);
        expect(reply.status(), icon.src).toBe(200);
        expect(reply.headers()["content-type"]).toBe(icon.type);
      }
      await page.evaluate(() => navigator.serviceWorker.ready.then(() => undefined));
      await reload(page);
      expect(await page.evaluate(() => navigator.serviceWorker.controller !== null), "the page is served through it").toBe(true);

      await server.down();
      await reload(page);
      await expect(page.locator("#notice")).toHaveText("The server is not answering; this page reconnects when it is back.");
      const cached = await page.evaluate(async () => (await (await caches.open("tsuzuki-shell-v1")).keys()).map((r) => new URL(r.url).pathname));
      expect(cached.some((p) => p.endsWith(".wasm")), "the wasm is kept").toBe(true);
      expect(cached.filter((p) => p.startsWith("/audio/") || p.startsWith("/session/")), "never the music or the API").toEqual([]);

      await server.up();
      await expect(page.locator("#notice"), "back on its own").toHaveCount(0, { timeout: 10_000 });
      await page.locator("#play").click();
      await expect(page.locator("#state")).toHaveText("playing");
      await page.locator("#stop").click();
      await expect(page.locator("#state")).toHaveText("idle");
    } finally {
      await server.stop();
    }
  });
});
