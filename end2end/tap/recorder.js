// The listener's ear for tests: every connection to an AudioContext's destination passes through an
// AudioWorklet that copies what the graph plays, render quantum by render quantum, with its exact frame on
// the audio clock. It runs on the audio thread, so unlike a ScriptProcessorNode it cannot miss a block when
// the page's main thread is busy (a missed ScriptProcessor block recorded a jump that no listener heard).
//
// As the copies arrive, every sample-to-sample step is judged against the sources themselves: the largest
// step that the audio buffers sounding at that moment make on their own (decoded at the context's rate, so
// the resampling is the browser's own). A step more than twice that is a click, reported with its time, the
// segment and the timeline phase. Installed as a page init script (Playwright's `addInitScript({ path })`);
// options come from `window.__tapOptions` set by an earlier init script: `keepAudio` (default true) keeps
// the whole recording for `tap.ts`'s analysis, a long run leaves it off and keeps only the figures.
(() => {
  const options = { keepAudio: true, ...(window.__tapOptions ?? {}) };
  /** Frames per window of a buffer's largest-step table. */
  const WINDOW = 128;
  /** A recorded step is a click above `RATIO` × the sources' own largest step nearby, plus `FLOOR`. */
  const RATIO = 2;
  const FLOOR = 1e-3;
  /** Clicks kept for the report (the count goes on). */
  const KEPT = 200;
  const tap = {
    rate: 0,
    /** The whole recording, when kept: `{ time, at, left }` blocks, `time` on the audio clock. */
    blocks: [],
    /** Every buffer started: `{ buffer, when, offset, stop }`, times on the audio clock. */
    sources: [],
    /** Holes in the audio clock after the first sound (the recorder lost audio), and where. */
    gaps: 0,
    lost: [],
    frames: 0,
    firstSound: null,
    /** 50 ms windows after the first sound and the piece's own fade-in, and those below -55 dBFS. */
    windows: 0,
    silent: 0,
    quietestDb: 0,
    clicks: [],
    clickCount: 0,
    /** The largest recorded step relative to the sources' own (the worst moment), with where it was. */
    worst: { ratio: 0 },
    largestStep: 0,
  };
  window.__tap = tap;

  const processor = `
    class TapRecorder extends AudioWorkletProcessor {
      constructor() {
        super();
        this.chunk = new Float32Array(2048);
        this.filled = 0;
        this.frame = 0;
      }
      process(inputs, outputs) {
        const input = inputs[0];
        const output = outputs[0];
        for (let c = 0; c < output.length; c++) {
          const from = input[c] ?? input[0];
          if (from) output[c].set(from);
        }
        const left = input[0];
        if (this.filled === 0) this.frame = currentFrame;
        if (left) this.chunk.set(left, this.filled);
        else this.chunk.fill(0, this.filled, this.filled + 128);
        this.filled += 128;
        if (this.filled === this.chunk.length) {
          this.port.postMessage({ frame: this.frame, rate: sampleRate, left: this.chunk }, [this.chunk.buffer]);
          this.chunk = new Float32Array(2048);
          this.filled = 0;
        }
        return true;
      }
    }
    registerProcessor("tap-recorder", TapRecorder);
  `;
  const moduleUrl = URL.createObjectURL(new Blob([processor], { type: "application/javascript" }));

  // Which buffer sounds when: the thresholds come from these.
  const start = AudioBufferSourceNode.prototype.start;
  AudioBufferSourceNode.prototype.start = function (when = 0, offset = 0, ...rest) {
    const source = { buffer: this.buffer, when: Math.max(when, this.context.currentTime), offset, stop: Infinity };
    source.steps = this.buffer ? stepTable(this.buffer.getChannelData(0)) : new Float32Array(0);
    this.__tapSource = source;
    tap.sources.push(source);
    return start.call(this, when, offset, ...rest);
  };
  // An oscillator (the timer's chimes) steps by at most 2π·f·peak per second: its bound, from the peak its
  // envelope's automation reaches.
  const scheduledStart = AudioScheduledSourceNode.prototype.start;
  AudioScheduledSourceNode.prototype.start = function (when = 0, ...rest) {
    if (this instanceof OscillatorNode) {
      const source = { oscillator: this, when: Math.max(when, this.context.currentTime), stop: Infinity };
      this.__tapSource = source;
      tap.sources.push(source);
    }
    return scheduledStart.call(this, when, ...rest);
  };
  for (const method of ["setValueAtTime", "linearRampToValueAtTime", "exponentialRampToValueAtTime", "setTargetAtTime"]) {
    const original = AudioParam.prototype[method];
    AudioParam.prototype[method] = function (value, ...rest) {
      this.__tapPeak = Math.max(this.__tapPeak ?? 0, Math.abs(value));
      return original.call(this, value, ...rest);
    };
  }
  function oscillatorStep(s) {
    const peak = s.oscillator.__tapEnvelope ? s.oscillator.__tapEnvelope.gain.__tapPeak ?? 1 : 1;
    return (2 * Math.PI * s.oscillator.frequency.value * peak) / tap.rate;
  }
  function stepTable(data) {
    const steps = new Float32Array(Math.ceil(data.length / WINDOW));
    for (let w = 0; w < steps.length; w++) {
      let most = 0;
      const end = Math.min(data.length, (w + 1) * WINDOW);
      for (let i = Math.max(1, w * WINDOW); i < end; i++) most = Math.max(most, Math.abs(data[i] - data[i - 1]));
      steps[w] = most;
    }
    return steps;
  }

  /** The largest step the sources sounding in frames `from..from+n` make themselves, a window either side. */
  function sourceStep(from, n) {
    let most = 0;
    let oscillators = 0;
    for (const s of tap.sources) {
      if (s.oscillator) {
        const [begins, ends] = [s.when * tap.rate, s.stop * tap.rate];
        if (from + n > begins && from <= ends) oscillators += oscillatorStep(s);
        continue;
      }
      if (!s.buffer) continue;
      const begins = Math.round(s.when * tap.rate);
      const length = s.buffer.length - Math.round(s.offset * tap.rate);
      const ends = Math.min(begins + length, s.stop === Infinity ? Infinity : Math.round(s.stop * tap.rate));
      // The block's first step is from the sample before it: a source that ended right there still counts.
      if (from + n <= begins || from > ends) continue;
      const position = from - begins + Math.round(s.offset * tap.rate);
      const w = Math.floor(position / WINDOW);
      for (let k = Math.max(0, w - 1); k <= Math.min(s.steps.length - 1, w + 2); k++) most = Math.max(most, s.steps[k]);
    }
    // Oscillators add to the music: their steps sum on top of the buffers' largest.
    return most + oscillators;
  }

  /** Where `time` falls in the player's timeline, from the player's own telemetry. */
  function whereIs(time) {
    const fades = window.tsuzukiTelemetry?.crossfades ?? [];
    let segment = window.tsuzukiTelemetry?.segment ?? null;
    let phase = tap.firstSound !== null && time < tap.firstSound + 2 ? "first sound" : "steady";
    let held = false;
    for (const c of fades) {
      if (c.start > time + 0.05) break;
      segment = c.index;
      held = c.hold;
      if (time <= c.end + 0.05) {
        phase = c.restart ? "restart" : c.hold ? "hold" : "crossfade";
        return { segment, phase };
      }
    }
    return { segment, phase: held && phase === "steady" ? "hold" : phase };
  }

  let previous = 0;
  let next = null;
  let window50 = { sum: 0, n: 0 };
  function consume({ frame, rate, left }) {
    tap.rate = rate;
    if (next !== null && frame !== next) {
      // The audio clock moved on without this recorder (the render thread missed its turn): no step across
      // the hole is judged. Before the first sound it is the context starting up (seen here: 1,400-3,200
      // frames in its first 0.1 s), which no listener hears; the kept recording then starts afresh, so it
      // stays contiguous.
      previous = left[0];
      if (tap.firstSound === null) tap.blocks = [];
      else {
        tap.gaps++;
        tap.lost.push({ at: next / rate, frames: frame - next });
      }
    }
    next = frame + left.length;
    tap.frames += left.length;
    const size = Math.round(0.05 * rate);
    for (let i = 0; i < left.length; i += 128) {
      const threshold = RATIO * sourceStep(frame + i, 128) + FLOOR;
      for (let k = i; k < i + 128; k++) {
        const x = left[k];
        const step = Math.abs(x - previous);
        previous = x;
        const time = (frame + k) / rate;
        if (tap.firstSound === null) {
          if (Math.abs(x) > 1e-4) tap.firstSound = time;
          else continue;
        }
        tap.largestStep = Math.max(tap.largestStep, step);
        const ratio = step / threshold;
        if (ratio > tap.worst.ratio) tap.worst = { ratio, time, step, source: (threshold - FLOOR) / RATIO, ...whereIs(time) };
        if (step > threshold) {
          tap.clickCount++;
          if (tap.clicks.length < KEPT) tap.clicks.push({ time, step, source: (threshold - FLOOR) / RATIO, ...whereIs(time) });
        }
        // Silence is judged once the piece's own half-second fade-in is over.
        if (time < tap.firstSound + 0.6) continue;
        window50.sum += x * x;
        if (++window50.n === size) {
          const level = 10 * Math.log10(window50.sum / size + 1e-20);
          tap.windows++;
          tap.quietestDb = Math.min(tap.quietestDb, level);
          if (level < -55) tap.silent++;
          window50 = { sum: 0, n: 0 };
        }
      }
    }
    if (options.keepAudio) tap.blocks.push({ time: frame / rate, at: performance.now(), left });
    else {
      // A long run keeps only the sources that may still sound.
      const now = next / rate;
      const ends = (s) => (s.oscillator ? s.stop : Math.min(s.stop, s.when + (s.buffer?.duration ?? 0) - s.offset));
      tap.sources = tap.sources.filter((s) => ends(s) > now - 1);
    }
  }

  const connect = AudioNode.prototype.connect;
  AudioNode.prototype.connect = function (target, ...rest) {
    if (this instanceof OscillatorNode && target instanceof GainNode) this.__tapEnvelope = target;
    if (!(target instanceof AudioDestinationNode)) return connect.call(this, target, ...rest);
    const context = target.context;
    if (!context.__tapJunction) {
      // Everything bound for the speakers meets here; the recorder is put in between as soon as its module
      // has loaded (well before the first sound, which waits for a download).
      const junction = context.createGain();
      connect.call(junction, target);
      context.__tapJunction = junction;
      context.audioWorklet.addModule(moduleUrl).then(() => {
        const recorder = new AudioWorkletNode(context, "tap-recorder", { outputChannelCount: [2] });
        recorder.port.onmessage = (event) => consume(event.data);
        junction.disconnect();
        connect.call(junction, recorder);
        connect.call(recorder, target);
      });
    }
    return connect.call(this, context.__tapJunction, ...rest);
  };
})();
