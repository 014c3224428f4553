import type { Page } from "@playwright/test";

/**
 * Records what the page's Web Audio graph plays: every connection to an AudioContext's destination is routed
 * through a ScriptProcessorNode that passes the audio on and keeps a copy, with the audio-clock time of each
 * block, so tests can measure what a listener would hear.
 */
export async function installTap(page: Page) {
  await page.addInitScript(() => {
    const connect = AudioNode.prototype.connect as (...args: unknown[]) => unknown;
    const tap = {
      rate: 0,
      blocks: [] as { time: number; at: number; left: Float32Array }[],
      sources: [] as { buffer: AudioBuffer | null; when: number; offset: number }[],
    };
    (window as unknown as { __tap: typeof tap }).__tap = tap;
    // Which buffer starts when, so a test can compare what it heard with what the buffer holds.
    const start = AudioBufferSourceNode.prototype.start;
    AudioBufferSourceNode.prototype.start = function (this: AudioBufferSourceNode, when = 0, offset = 0, ...rest: number[]) {
      tap.sources.push({ buffer: this.buffer, when, offset });
      return start.call(this, when, offset, ...rest);
    } as typeof AudioBufferSourceNode.prototype.start;
    AudioNode.prototype.connect = function (this: AudioNode, target: unknown, ...rest: unknown[]) {
      if (target instanceof AudioDestinationNode) {
        const context = target.context as AudioContext & { __recorder?: ScriptProcessorNode };
        if (!context.__recorder) {
          const recorder = context.createScriptProcessor(4096, 2, 2);
          recorder.onaudioprocess = (event) => {
            const left = event.inputBuffer.getChannelData(0);
            event.outputBuffer.getChannelData(0).set(left);
            event.outputBuffer.getChannelData(1).set(event.inputBuffer.getChannelData(1));
            tap.rate = event.inputBuffer.sampleRate;
            tap.blocks.push({ time: event.playbackTime, at: performance.now(), left: left.slice() });
          };
          connect.call(recorder, target);
          context.__recorder = recorder;
        }
        return connect.call(this, context.__recorder, ...rest);
      }
      return connect.call(this, target, ...rest);
    } as typeof AudioNode.prototype.connect;
  });
}

export type Heard = {
  seconds: number;
  /** Recorded blocks more than 30 ms off where contiguous audio would put them (the tap missed audio). */
  discontinuities: number;
  /** 50 ms windows below -55 dBFS between the first sound and the end of the recording. */
  silentWindows: number;
  quietestDb: number;
  maxStep: number;
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
     * Loudness change the crossfade causes, in dB. Into a segment that continues the same music: the heard
     * audio against the incoming buffer's own audio for the same moments (relative to the same comparison
     * just after the crossfade). Into a hold, whose two signals differ: the crossfade against the mean of
     * the 2 s on either side; into different music, how far it strays outside the span of those two.
     */
    levelDiffDb: number;
    maxStepIn: number;
    maxStepAround: number;
    /** Into a segment: the largest step of the incoming buffer's own audio over the crossfade. */
    refStep: number | null;
    /** How closely the 0.2 s just after the crossfade matches anything heard in the seconds before it. */
    repeat: number;
    repeatLag: number;
  }[];
};

/** Measures the recording: gaps, clicks, loudness through each crossfade, and repeated audio. */
export async function analyse(page: Page, searchSeconds = 9): Promise<Heard> {
  return page.evaluate((searchSeconds) => {
    type Block = { time: number; left: Float32Array };
    type Fade = { index: number; hold: boolean; equalPower: boolean; start: number; end: number };
    type Source = { buffer: AudioBuffer | null; when: number; offset: number };
    const tap = (window as unknown as { __tap: { rate: number; blocks: Block[]; sources: Source[] } }).__tap;
    const fades = (window as unknown as { tsuzukiTelemetry?: { crossfades: Fade[] } }).tsuzukiTelemetry?.crossfades ?? [];
    const rate = tap.rate || 48000;
    const blocks = tap.blocks;
    const total = blocks.reduce((n, b) => n + b.left.length, 0);
    const x = new Float32Array(total);
    // Chromium reports each block's playbackTime with jitter (single blocks tens of ms off); a hole in the
    // recording shifts every later block for good, so it counts only when five blocks in a row agree.
    let t0 = blocks.length ? blocks[0].time : 0;
    let discontinuities = 0;
    let baseline = 0;
    let at = 0;
    const drift: number[] = [];
    for (const b of blocks) {
      drift.push(b.time - (t0 + at / rate));
      x.set(b.left, at);
      at += b.left.length;
    }
    for (let i = 0; i + 5 <= drift.length; i++) {
      if (drift.slice(i, i + 5).every((d) => Math.abs(d - baseline) > 0.05)) {
        discontinuities++;
        baseline = drift[i + 4];
      }
    }
    // The tap hears the graph a buffer or two before playbackTime, and the time itself jitters: find the
    // exact offset by locating the first segment's audio (after its short fade-in) in the recording.
    const firstSource = tap.sources.find((s) => s.buffer);
    if (firstSource?.buffer) {
      const data = firstSource.buffer.getChannelData(0);
      const from = Math.round((firstSource.offset + 1) * rate);
      const n = Math.round(0.2 * rate);
      const guess = Math.round((firstSource.when + 1 - t0) * rate);
      let best = -1;
      let shift = 0;
      for (let d = -Math.round(0.4 * rate); d <= Math.round(0.4 * rate); d++) {
        const r = guess + d;
        if (r < 0 || r + n > total) continue;
        let dot = 0;
        let e = 0;
        for (let k = 0; k < n; k++) {
          dot += x[r + k] * data[from + k];
          e += x[r + k] * x[r + k];
        }
        const c = dot / Math.sqrt(e + 1e-20);
        if (c > best) {
          best = c;
          shift = d;
        }
      }
      t0 -= shift / rate;
    }
    const index = (t: number) => Math.max(0, Math.min(total, Math.round((t - t0) * rate)));
    const rms = (a: number, b: number) => {
      let s = 0;
      for (let i = a; i < b; i++) s += x[i] * x[i];
      return 10 * Math.log10(s / Math.max(1, b - a) + 1e-20);
    };
    const maxStep = (a: number, b: number) => {
      let m = 0;
      for (let i = Math.max(a, 1); i < b; i++) m = Math.max(m, Math.abs(x[i] - x[i - 1]));
      return m;
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

    const crossfades = fades
      .filter((c) => index(c.start - 2) > first && index(c.end + 2) < total)
      .map((c) => {
        const [a, b] = [index(c.start), index(c.end)];
        const before = rms(index(c.start - 2), a);
        const after = rms(b, index(c.end + 2));
        const [repeat, repeatLag] = bestRepeat(Math.floor(index(c.end + 0.05) / D));
        // Into different music: how far the crossfade strays outside the span between the music on either
        // side (the two may differ, an equal-power blend of them lies between). Into a hold: against their mean.
        const inside = rms(a, b);
        let levelDiffDb = c.equalPower
          ? inside - Math.min(Math.max(inside, Math.min(before, after)), Math.max(before, after))
          : inside - (before + after) / 2;
        let refStep: number | null = null;
        let joinStepDb: number | null = null;
        const source = tap.sources.find((s) => Math.abs(s.when - c.start) < 1e-6 && s.buffer);
        if (!c.hold && source?.buffer) {
          const data = source.buffer.getChannelData(0);
          const at = (t: number) => Math.round((t - source.when + source.offset) * source.buffer!.sampleRate);
          const refRms = (from: number, to: number) => {
            let sum = 0;
            for (let i = at(from); i < at(to); i++) sum += (data[i] ?? 0) ** 2;
            return 10 * Math.log10(sum / Math.max(1, at(to) - at(from)) + 1e-20);
          };
          // Between different music the two signals' powers add, so the crossfade is judged against its
          // surroundings, as a hold is; the same music is judged against the incoming buffer itself.
          if (!c.equalPower) levelDiffDb = rms(a, b) - refRms(c.start, c.end) - (after - refRms(c.end, c.end + 2));
          if (at(c.start - 1) >= 0) {
            joinStepDb =
              rms(index(c.start - 1), a) - refRms(c.start - 1, c.start) - (rms(b, index(c.end + 1)) - refRms(c.end, c.end + 1));
          }
          const gain = Math.pow(10, (after - refRms(c.end, c.end + 2)) / 20);
          refStep = 0;
          for (let i = at(c.start); i < at(c.end); i++) refStep = Math.max(refStep, Math.abs((data[i] ?? 0) - (data[i - 1] ?? 0)) * gain);
        }
        return {
          index: c.index,
          hold: c.hold,
          equalPower: c.equalPower,
          joinStepDb,
          levelDiffDb,
          maxStepIn: maxStep(a - 1, b + 1),
          maxStepAround: Math.max(maxStep(index(c.start - 2), a), maxStep(b, index(c.end + 2))),
          refStep,
          repeat,
          repeatLag,
        };
      });
    return { seconds: total / rate, discontinuities, silentWindows, quietestDb, maxStep: maxStep(first, total), crossfades };
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
};

export async function telemetry(page: Page): Promise<Telemetry> {
  return page.evaluate(() => (window as unknown as { tsuzukiTelemetry: Telemetry }).tsuzukiTelemetry);
}
