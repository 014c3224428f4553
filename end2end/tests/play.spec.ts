import { expect, test } from "@playwright/test";
import { open, reload } from "./page";
import { analyse, expectNoClick, installTap, loudestSince } from "./tap";

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
  const stoppedAt = await page.evaluate(() => performance.now());
  await page.waitForTimeout(1_000);
  expect(await loudestSince(page, stoppedAt + 300)).toBeLessThan(1e-3);
  const status = await (await page.request.get("/session/status")).json();
  expect(status.state).toBe("idle");
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
