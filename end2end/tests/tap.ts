import path from "node:path";
import { expect, type Page } from "@playwright/test";

/**
 * Records what the page's Web Audio graph plays (`../tap/recorder.js`: an AudioWorklet before the
 * destination, exact frames on the audio clock), and judges every step against the sources' own.
 */
export async function installTap(page: Page) {
  await page.addInitScript({ path: path.join(__dirname, "..", "tap", "recorder.js") });
}

/** A step more than twice what the sources sounding then make themselves: see `recorder.js`. */
export type Click = { time: number; step: number; source: number; segment: number | null; phase: string };

export type Heard = {
  seconds: number;
  /** Recorded blocks not contiguous with the ones before (the recorder lost audio). */
  discontinuities: number;
  /** Every click heard since Play (the first 200), judged against the sources. */
  clicks: Click[];
  /** The step heard relative to the sources' own, at the worst moment (a click above 1). */
  worst: { ratio: number; time?: number; step?: number; source?: number; segment?: number | null; phase?: string };
  /** 50 ms windows below -55 dBFS between the first sound and the end of the recording. */
  silentWindows: number;
  quietestDb: number;
  crossfades: {
    index: number;
    hold: boolean;
    /** Crossfaded as different music: powers, not amplitudes, sum to one. */
    equalPower: boolean;
    /**
     * Into a segment that continues the same music: the level step a listener hears at the join, in dB.
     * The heard audio in the second before the crossfade (the outgoing segment) against the incoming
     * buffer's own audio for the same moments, relative to the same comparison just after the crossfade.
     * `null` when the incoming buffer holds no audio before its crossfade.
     */
    joinStepDb: number | null;
    /**
     * Loudness change the crossfade causes, in dB: the heard audio against what the two buffers sound like
     * on their own at the same moments (relative to the same comparison in the 2 s just after the
     * crossfade, which cancels any gain after the sources). Into a segment that continues the same music
     * the reference is the incoming buffer; into different music or a hold, whose powers add, it is the
     * two buffers' powers moved from one to the other along the equal-power curve. So the music's own
     * swell or lull is never counted against the crossfade.
     */
    levelDiffDb: number;
    /** Into the first segment of a new session. */
    restart: boolean;
    /** How closely the 0.2 s just after the crossfade matches anything heard in the seconds before it. */
    repeat: number;
    repeatLag: number;
  }[];
};

/** Measures the recording: gaps, clicks, loudness through each crossfade, and repeated audio. */
export async function analyse(page: Page, searchSeconds = 9): Promise<Heard> {
  return page.evaluate((searchSeconds) => {
    type Block = { time: number; left: Float32Array };
    type Fade = { index: number; hold: boolean; equalPower: boolean; restart: boolean; start: number; end: number };
    type Source = { buffer: AudioBuffer | null; when: number; offset: number; stop: number };
    type Tap = { rate: number; blocks: Block[]; sources: Source[]; gaps: number; clicks: unknown[]; worst: Heard["worst"] };
    const tap = (window as unknown as { __tap: Tap }).__tap;
    const fades = (window as unknown as { tsuzukiTelemetry?: { crossfades: Fade[] } }).tsuzukiTelemetry?.crossfades ?? [];
    const rate = tap.rate || 48000;
    const blocks = tap.blocks;
    const total = blocks.reduce((n, b) => n + b.left.length, 0);
    const x = new Float32Array(total);
    // The recorder's blocks carry their exact frame: contiguous unless it lost audio.
    const t0 = blocks.length ? blocks[0].time : 0;
    let at = 0;
    for (const b of blocks) {
      x.set(b.left, at);
      at += b.left.length;
    }
    const discontinuities = tap.gaps;
    const index = (t: number) => Math.max(0, Math.min(total, Math.round((t - t0) * rate)));
    const rms = (a: number, b: number) => {
      let s = 0;
      for (let i = a; i < b; i++) s += x[i] * x[i];
      return 10 * Math.log10(s / Math.max(1, b - a) + 1e-20);
    };
    let first = 0;
    while (first < total && Math.abs(x[first]) < 1e-4) first++;
    // The piece itself fades in over its first half second.
    first = Math.min(total, first + Math.round(0.6 * rate));
    const w = Math.round(0.05 * rate);
    let silentWindows = 0;
    let quietestDb = 0;
    for (let a = first; a + w <= total; a += w) {
      const level = rms(a, a + w);
      quietestDb = Math.min(quietestDb, level);
      if (level < -55) silentWindows++;
    }

    // Repeats: the best normalised correlation between a short window and every earlier window within
    // `searchSeconds`, on a 4× decimated copy (enough for music, and tolerant of sub-sample shifts).
    const D = 4;
    const y = new Float32Array(Math.floor(total / D));
    for (let i = 0; i < y.length; i++) y[i] = (x[D * i] + x[D * i + 1] + x[D * i + 2] + x[D * i + 3]) / D;
    const win = Math.round((0.2 * rate) / D);
    const bestRepeat = (start: number) => {
      let ea = 0;
      for (let k = 0; k < win; k++) ea += y[start + k] * y[start + k];
      let best = 0;
      let lagAt = 0;
      const minLag = Math.round((0.25 * rate) / D);
      const maxLag = Math.round((searchSeconds * rate) / D);
      for (let lag = minLag; lag <= maxLag && start - lag >= 0; lag++) {
        let dot = 0;
        let eb = 0;
        const s = start - lag;
        for (let k = 0; k < win; k++) {
          dot += y[start + k] * y[s + k];
          eb += y[s + k] * y[s + k];
        }
        const c = dot / Math.sqrt(ea * eb + 1e-20);
        if (c > best) {
          best = c;
          lagAt = lag;
        }
      }
      return [best, (lagAt * D) / rate];
    };

    /** Where time `t` falls in a source's buffer, in frames. */
    const frameOf = (s: Source, t: number) => Math.round((t - s.when + s.offset) * s.buffer!.sampleRate);
    /** Mean power of a source's own audio between two times (0 outside its buffer). */
    const power = (s: Source, from: number, to: number) => {
      const data = s.buffer!.getChannelData(0);
      const [i, j] = [frameOf(s, from), frameOf(s, to)];
      let sum = 0;
      for (let k = i; k < j; k++) sum += (data[k] ?? 0) ** 2;
      return sum / Math.max(1, j - i);
    };
    const db = (p: number) => 10 * Math.log10(p + 1e-20);
    /**
     * What an equal-power crossfade of two unrelated signals sounds like, from their own audio: in 10 ms
     * steps, each one's power weighted by its share of the curve (the player's raised-cosine angle).
     */
    const blendedDb = (out: Source, into: Source, start: number, end: number) => {
      const step = 0.01;
      let sum = 0;
      let n = 0;
      for (let t = start; t < end; t += step) {
        const u = (t + step / 2 - start) / (end - start);
        const share = Math.sin((Math.PI / 2) * (0.5 - 0.5 * Math.cos(Math.PI * u))) ** 2;
        sum += (1 - share) * power(out, t, t + step) + share * power(into, t, t + step);
        n++;
      }
      return db(sum / Math.max(1, n));
    };

    const crossfades = fades
      .filter((c) => index(c.start - 2) > first && index(c.end + 2) < total)
      .map((c) => {
        const [a, b] = [index(c.start), index(c.end)];
        const [repeat, repeatLag] = bestRepeat(Math.floor(index(c.end + 0.05) / D));
        const playing = tap.sources.filter((s) => s.buffer);
        const into = playing.find((s) => Math.abs(s.when - c.start) < 1e-6);
        // The source fading out: the last one started before the crossfade that still sounds through it.
        const out = playing
          .filter((s) => s.when < c.start - 1e-6 && Math.min(s.stop, s.when + s.buffer!.duration - s.offset) >= c.end - 1e-3)
          .pop();
        if (!into) throw new Error(`no source starts the crossfade into ${c.index}`);
        const after = rms(b, index(c.end + 2)) - db(power(into, c.end, c.end + 2));
        let levelDiffDb: number;
        if (c.equalPower) {
          if (!out) throw new Error(`no source fades out in the crossfade into ${c.index}`);
          levelDiffDb = rms(a, b) - blendedDb(out, into, c.start, c.end) - after;
        } else {
          levelDiffDb = rms(a, b) - db(power(into, c.start, c.end)) - after;
        }
        let joinStepDb: number | null = null;
        if (!c.hold && frameOf(into, c.start - 1) >= 0) {
          const ref = (from: number, to: number) => db(power(into, from, to));
          joinStepDb = rms(index(c.start - 1), a) - ref(c.start - 1, c.start) - (rms(b, index(c.end + 1)) - ref(c.end, c.end + 1));
        }
        return {
          index: c.index,
          hold: c.hold,
          equalPower: c.equalPower,
          joinStepDb,
          levelDiffDb,
          restart: c.restart,
          repeat,
          repeatLag,
        };
      });
    return {
      seconds: total / rate,
      discontinuities,
      clicks: tap.clicks as Click[],
      worst: tap.worst,
      silentWindows,
      quietestDb,
      crossfades,
    };
  }, searchSeconds);
}

/** The loudest sample in blocks recorded after `since` (performance.now() milliseconds). */
export async function loudestSince(page: Page, since: number) {
  return page.evaluate((since) => {
    const tap = (window as unknown as { __tap: { blocks: { at: number; left: Float32Array }[] } }).__tap;
    let peak = 0;
    for (const block of tap.blocks) if (block.at > since) for (const s of block.left) peak = Math.max(peak, Math.abs(s));
    return peak;
  }, since);
}

export type Telemetry = {
  segmentsPlayed: number;
  switches: number;
  holds: number;
  staleDiscarded: number;
  restarts: number;
  lead: number;
  lastLatency: number;
  decodedAlive: number;
  segment: number | null;
  sessionId: string | null;
  /** The encoding of the last segment downloaded, its bytes per minute of music, and broken downloads resumed. */
  format: "flac" | "opus" | null;
  bytesPerMinute: number;
  bytesReceived: number;
  resumes: number;
};

export async function telemetry(page: Page): Promise<Telemetry> {
  return page.evaluate(() => (window as unknown as { tsuzukiTelemetry: Telemetry }).tsuzukiTelemetry);
}

/** No recorded step is more than twice what the sources sounding then make themselves. */
export function expectNoClick(heard: Heard) {
  const where = (c: Click) =>
    `${c.step.toFixed(3)} at ${c.time.toFixed(3)} s (sources ${c.source.toFixed(3)}, segment ${c.segment}, ${c.phase})`;
  expect(heard.clicks.map(where), "steps more than twice the sources' own").toEqual([]);
}

/** Each segment the player decoded, in the order it started them, and how it lines up with the one before. */
export type Decoded = {
  frames: number;
  rate: number;
  /** The overlap's first seconds against the previous segment's tail: the best of lags -2..2 frames. */
  correlation: number | null;
  lag: number | null;
};

/** The decoded segments (holds replay one, so each counts once); `overlap` in seconds. */
export async function decodedSegments(page: Page, overlap: number): Promise<Decoded[]> {
  return page.evaluate((overlap) => {
    const tap = (window as unknown as { __tap: { sources: { buffer: AudioBuffer | null }[] } }).__tap;
    const buffers: AudioBuffer[] = [];
    for (const s of tap.sources) if (s.buffer && !buffers.includes(s.buffer)) buffers.push(s.buffer);
    return buffers.map((b, i) => {
      if (i === 0) return { frames: b.length, rate: b.sampleRate, correlation: null, lag: null };
      const previous = buffers[i - 1].getChannelData(0);
      const next = b.getChannelData(0);
      const n = Math.round(overlap * b.sampleRate);
      const tail = previous.length - n;
      const at = (lag: number) => {
        let [dot, a, c] = [0, 0, 0];
        // The middle of the overlap: a codec's first and last packets are excluded.
        for (let k = 2048; k < n - 2048; k++) {
          const x = previous[tail + k];
          const y = next[k + lag] ?? 0;
          dot += x * y;
          a += x * x;
          c += y * y;
        }
        return dot / Math.sqrt(a * c + 1e-20);
      };
      let best = -2;
      for (let lag = -1; lag <= 2; lag++) if (at(lag) > at(best)) best = lag;
      return { frames: b.length, rate: b.sampleRate, correlation: at(best), lag: best };
    });
  }, overlap);
}

/**
 * The level heard between two moments on the audio clock, in dB of full scale (RMS); with `frequency`,
 * only that frequency's component (a Goertzel filter over the stretch).
 */
export async function heardDb(page: Page, from: number, to: number, frequency?: number) {
  return page.evaluate(
    ([from, to, frequency]) => {
      const tap = (window as unknown as { __tap: { rate: number; blocks: { time: number; left: Float32Array }[] } }).__tap;
      const rate = tap.rate || 48000;
      const samples: number[] = [];
      for (const b of tap.blocks) {
        if (b.time + b.left.length / rate < from || b.time > to) continue;
        b.left.forEach((x, i) => {
          const t = b.time + i / rate;
          if (t >= from && t < to) samples.push(x);
        });
      }
      const n = Math.max(1, samples.length);
      if (!frequency) return 10 * Math.log10(samples.reduce((s, x) => s + x * x, 0) / n + 1e-20);
      const w = (2 * Math.PI * frequency) / rate;
      let [re, im] = [0, 0];
      samples.forEach((x, k) => {
        re += x * Math.cos(w * k);
        im -= x * Math.sin(w * k);
      });
      // A sine of amplitude A gives |X| = A·n/2, and an RMS of A/√2.
      return 10 * Math.log10((2 * (re * re + im * im)) / (n * n) + 1e-20);
    },
    [from, to, frequency ?? 0] as const,
  );
}

/** After `waitMs`, nothing has sounded since this call (past the player's 50 ms fade) and the server is idle. */
export async function expectSilentAndIdle(page: Page, waitMs = 1_000) {
  const since = await page.evaluate(() => performance.now());
  await page.waitForTimeout(waitMs);
  expect(await loudestSince(page, since + 300), "silent").toBeLessThan(1e-3);
  const status = await (await page.request.get("/session/status")).json();
  expect(status.state, "the server's session is over").toBe("idle");
}
