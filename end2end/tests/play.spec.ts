import { expect, test } from "@playwright/test";
import { open, reload } from "./page";
import { analyse, expectNoClick, expectSilentAndIdle, installTap, loudestSince } from "./tap";

test.beforeEach(async ({ page }) => {
  await installTap(page);
});

test("the page offers a mood, Play and Stop", async ({ page }) => {
  await open(page, "/");
  await expect(page.locator("#prompt")).toHaveAttribute(
    "placeholder",
    "instrumental ambient focus music, smooth continuous texture, no vocals, stable rhythm",
  );
  await expect(page.locator("#state")).toHaveText("idle");
  await expect(page.locator("#play")).toBeEnabled();
  await expect(page.locator("#stop")).toBeDisabled();
});

test("Play makes continuous music and Stop silences it", async ({ page }) => {
  await open(page, "/");
  await page.locator("#prompt").fill("calm piano, soft rain");
  await page.locator("#play").click();
  await expect(page.locator("#state")).toHaveText("playing");
  await expect(page.locator("#segment")).toHaveText("0");
  await page.waitForTimeout(4_000);

  const heard = await analyse(page);
  expect(heard.seconds).toBeGreaterThan(3.5);
  expect(heard.silentWindows).toBe(0);
  // The first seconds after Play, where a click was once heard.
  expectNoClick(heard);

  await page.locator("#stop").click();
  await expect(page.locator("#state")).toHaveText("idle");
  await expectSilentAndIdle(page);
});

test("one tab plays at a time: a new tab offers to take over, and taking over moves the same music", async ({ page, context }) => {
  await open(page, "/");
  await page.locator("#play").click();
  await expect(page.locator("#state")).toHaveText("playing");
  const session = (await (await page.request.get("/session/status")).json()).session_id;
  // A second tab of the same browser does not join in: two tabs would play the music twice.
  const other = await context.newPage();
  await installTap(other);
  await open(other, "/");
  await expect(other.locator("#notice")).toHaveText(/Playing in another tab/);
  await other.waitForTimeout(1_000);
  await expect(other.locator("#state")).toHaveText("idle");
  expect(await loudestSince(other, 0), "the new tab stays silent").toBeLessThan(1e-3);
  await expect(page.locator("#state")).toHaveText("playing");

  await other.locator("#take-over").click();
  await expect(other.locator("#state")).toHaveText("playing");
  await expect(page.locator("#state")).toHaveText("idle");
  await expect(page.locator("#notice")).toHaveText(/Playing in another tab/);
  const tookOver = await page.evaluate(() => performance.now());
  await other.waitForTimeout(3_000);
  expect(await loudestSince(page, tookOver + 300), "the first tab falls silent").toBeLessThan(1e-3);
  const heard = await analyse(other);
  expect(heard.seconds).toBeGreaterThan(2);
  expect(heard.silentWindows).toBe(0);
  expectNoClick(heard);
  const status = await (await page.request.get("/session/status")).json();
  expect(status.session_id, "the same session goes on").toBe(session);

  await other.locator("#stop").click();
  await expect(page.locator("#notice")).toHaveText("Stopped from another tab or device.");
  await other.close();
});

test("Stop on another device stops the music here too, and nothing starts it again", async ({ page, browser }) => {
  await open(page, "/");
  await page.locator("#play").click();
  await expect(page.locator("#state")).toHaveText("playing");
  // Another browser profile shares no tab channel: it stands for a phone or a second computer.
  const device = await browser.newContext();
  const remote = await device.newPage();
  await open(remote, "/");
  await expect(remote.locator("#state")).toHaveText("playing");
  await remote.locator("#stop").click();
  await expect(page.locator("#state")).toHaveText("idle", { timeout: 10_000 });
  await expect(page.locator("#notice")).toHaveText("Stopped from another tab or device.");
  // Several of this page's status polls come and go meanwhile: none of them starts a session again.
  await expectSilentAndIdle(page, 3_000);
  await device.close();
});

test("Space plays and stops, and settings survive a reload", async ({ page }) => {
  await open(page, "/");
  await expect(page.locator("#state")).toHaveText("idle");
  await page.locator("#crossfade").fill("5");
  await page.locator("#volume").fill("0.5");
  await page.locator("#max-lead").fill("25");
  await page.locator("#prompt").fill("lofi piano 84 bpm");
  await page.locator("body").click();
  await page.keyboard.press("Space");
  await expect(page.locator("#state")).toHaveText("playing");
  await page.locator("body").click();
  await page.keyboard.press("Space");
  await expect(page.locator("#state")).toHaveText("idle");
  await reload(page);
  await expect(page.locator("#prompt")).toHaveValue("lofi piano 84 bpm");
  await expect(page.locator("#crossfade")).toHaveValue("5");
  await expect(page.locator("#volume")).toHaveValue("0.5");
  await expect(page.locator("#max-lead")).toHaveValue("25");
});
