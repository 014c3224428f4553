// Plays the stream for a long time at the product's default 60 s / 15 s and reports holds, silence, every
// click (a step more than twice the sources' own, with its time, segment and timeline phase) and the
// browser's memory. Not part of the default test run (it takes as long as it plays):
//
//   node long-run.mjs [minutes=10] [url]
//
// Without a URL it starts target/debug/tsuzuki (built by scripts/test.sh or `cargo leptos build`) on a
// free port with the default segment lengths.
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";

const minutes = Number(process.argv[2] ?? 10);
let url = process.argv[3];
const repo = path.resolve(import.meta.dirname, "..");
let server;
if (!url) {
  const target = process.env.CARGO_TARGET_DIR ?? path.join(repo, "target");
  url = "http://127.0.0.1:3199";
  server = spawn(path.join(target, "debug", "tsuzuki"), ["--addr", "127.0.0.1:3199", "--data-dir", mkdtempSync(path.join(tmpdir(), "tsuzuki-long-"))], {
    cwd: repo,
    env: { ...process.env, LEPTOS_SITE_ROOT: path.join(repo, "target", "site"), RUST_LOG: "warn" },
    stdio: "inherit",
  });
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${url}/health`)).ok) break;
    } catch {}
    if (i > 200) throw new Error("server did not start");
    await new Promise((r) => setTimeout(r, 100));
  }
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--autoplay-policy=no-user-gesture-required", "--enable-precise-memory-info"],
});
const page = await browser.newPage();
// The same recorder the tests use, keeping figures only (hours of audio would not fit in memory): every step
// more than twice the sources' own is reported with its time, segment and timeline phase.
await page.addInitScript(() => {
  window.__tapOptions = { keepAudio: false };
});
await page.addInitScript({ path: path.join(import.meta.dirname, "tap", "recorder.js") });
await page.goto(url);
await page.click("#play");
const started = Date.now();
let reported = 0;
const report = async () => {
  const r = await page.evaluate(() => {
    const tap = window.__tap;
    return {
      telemetry: window.tsuzukiTelemetry,
      tap: {
        seconds: tap.frames / (tap.rate || 48000), windows: tap.windows, silent: tap.silent, quietest: tap.quietestDb,
        gaps: tap.gaps, clickCount: tap.clickCount, clicks: tap.clicks, worst: tap.worst, largestStep: tap.largestStep,
      },
      heapMb: performance.memory ? performance.memory.usedJSHeapSize / 1e6 : null,
    };
  });
  const t = r.telemetry ?? {};
  for (const c of r.tap.clicks.slice(reported)) {
    console.log(`click: step ${c.step.toFixed(3)} at ${c.time.toFixed(3)} s, ${(c.step / Math.max(c.source, 1e-9)).toFixed(1)}× the sources' ${c.source.toFixed(3)}, segment ${c.segment}, ${c.phase}`);
  }
  reported = r.tap.clicks.length;
  const w = r.tap.worst;
  console.log(JSON.stringify({
    minutes: +((Date.now() - started) / 60000).toFixed(2),
    segment: t.segment, switches: t.switches, holds: t.holds, restarts: t.restarts, staleDiscarded: t.staleDiscarded,
    decodedAlive: t.decodedAlive, format: t.format, mbPerMinute: +((t.bytesPerMinute ?? 0) / 1e6).toFixed(2),
    mbReceived: +((t.bytesReceived ?? 0) / 1e6).toFixed(1), resumes: t.resumes, heardSeconds: +r.tap.seconds.toFixed(1), recorderGaps: r.tap.gaps,
    silentWindows: r.tap.silent, quietestDb: +r.tap.quietest.toFixed(1), clicks: r.tap.clickCount,
    largestStep: +r.tap.largestStep.toFixed(4),
    worst: w.time === undefined ? null : { ratio: +w.ratio.toFixed(2), step: +w.step.toFixed(4), source: +w.source.toFixed(4), at: +w.time.toFixed(2), segment: w.segment, phase: w.phase },
    jsHeapMb: r.heapMb && +r.heapMb.toFixed(1),
  }));
  return r;
};
while (Date.now() - started < minutes * 60000) {
  await new Promise((r) => setTimeout(r, 60000));
  await report();
}
const final = await report();
await page.click("#stop");
await browser.close();
server?.kill("SIGTERM");
const clean = final.tap.silent === 0 && final.tap.clickCount === 0 && final.tap.gaps === 0;
process.exit(clean && (final.telemetry?.holds ?? 1) === 0 ? 0 : 1);
