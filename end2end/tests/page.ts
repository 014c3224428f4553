import { expect, type Page } from "@playwright/test";

/**
 * Opens the app and waits until it has hydrated: before then the server-rendered page shows every control,
 * but none of them does anything yet (a key, a click or a typed mood would be lost).
 */
export async function open(page: Page, url = "/") {
  await page.goto(url);
  await hydrated(page);
}

/** Reloads the app and waits until it has hydrated again. */
export async function reload(page: Page) {
  await page.reload();
  await hydrated(page);
}

async function hydrated(page: Page) {
  await expect(page.locator("section.controls")).toHaveAttribute("data-ready", "true");
}
