import { expect, test, type Page } from "@playwright/test";
import { analyse, installTap } from "./tap";

// The click check guards every other test; these show that it hears what it must and nothing else. Each
// plays a tone through the same recorder, on a page of the server's that never touches audio itself.

test.beforeEach(async ({ page }) => {
  await installTap(page);
  await page.goto("/health");
});

/**
 * Plays two seconds of a 220 Hz tone as two buffers meeting at 1 s. `jump` moves the second buffer's start
 * that many seconds further into the tone, as a voice started out of step would.
 */
async function playTone(page: Page, jump: number) {
  await page.evaluate(async (jump) => {
    const context = new AudioContext({ sampleRate: 48000 });
    const tone = (from: number, seconds: number) => {
      const buffer = context.createBuffer(1, seconds * context.sampleRate, context.sampleRate);
      const data = buffer.getChannelData(0);
      for (let i = 0; i < data.length; i++) data[i] = 0.3 * Math.sin(2 * Math.PI * 220 * (from + i / context.sampleRate));
      return buffer;
    };
    const output = context.createGain();
    output.connect(context.destination);
    // Once the recorder is in place (its module loads on the first connection) and the clock runs.
    await new Promise((r) => setTimeout(r, 500));
    const at = context.currentTime + 0.2;
    const first = context.createBufferSource();
    first.buffer = tone(0, 1);
    first.connect(output);
    first.start(at);
    const second = context.createBufferSource();
    second.buffer = tone(1 + jump, 1);
    second.connect(output);
    second.start(at + 1);
    await new Promise((r) => setTimeout(r, 2600));
  }, jump);
}

test("the ear hears no click in a tone that continues across two buffers", async ({ page }) => {
  await playTone(page, 0);
  const heard = await analyse(page);
  expect(heard.seconds).toBeGreaterThan(2);
  expect(heard.clicks).toEqual([]);
  // The tone's own largest step is 0.3 × 2π × 220 / 48000 ≈ 0.0086; at its worst moment it is at most that.
  expect(heard.worst.ratio).toBeLessThan(1);
});

test("the ear hears a voice started 2.3 ms out of step, where it joins", async ({ page }) => {
  // A quarter of the tone's period: the second buffer begins at the crest while the first ends at zero.
  await playTone(page, 1 / 880);
  const heard = await analyse(page);
  expect(heard.clicks.length, "the planted click").toBeGreaterThan(0);
  const first = heard.clicks[0];
  // Both buffers are smooth on their own: only the join is out of step, and it is reported there.
  expect(first.step).toBeGreaterThan(0.25);
  expect(first.step / first.source).toBeGreaterThan(20);
  const startedAt = await page.evaluate(
    () => (window as unknown as { __tap: { sources: { when: number }[] } }).__tap.sources[1].when,
  );
  expect(Math.abs(first.time - startedAt)).toBeLessThan(2 / 48000);
});
