//! The Web Audio graph: one `AudioContext`, each voice an `AudioBufferSourceNode` through its own
//! `GainNode` into the timer's break gain, then the volume and the timer's ending gain; everything scheduled
//! on the audio clock (never on timers).

use js_sys::{ArrayBuffer, Promise};
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    AnalyserNode, AudioBuffer, AudioBufferSourceNode, AudioContext, AudioContextOptions,
    AudioScheduledSourceNode, GainNode,
};

use crate::timer::{Plan, Reading};
use crate::view::VoiceView;

use super::timeline::{fade_curve, Blend, Entry, Placement};
use super::timer_nodes::TimerNodes;

/// The server's segments are 48 kHz (ACE-Step's own rate; `Status::sample_rate`).
const SEGMENT_RATE: f32 = 48_000.0;

pub(super) fn describe(error: JsValue) -> String {
    error.as_string().unwrap_or_else(|| format!("{error:?}"))
}

/// Points in a crossfade curve: smooth for any length the UI allows.
const CURVE_POINTS: usize = 256;
/// Frames the level is measured over.
const LEVEL_FRAMES: u32 = 2048;
/// Fade-in of the very first sound and fade-out on Stop: short, but never a click.
const QUICK_FADE: f64 = 0.05;

pub struct AudioGraph {
    context: AudioContext,
    master: GainNode,
    timer: TimerNodes,
    /// Listens to what goes to the speakers, for the calm view's visual.
    analyser: AnalyserNode,
}

/// One segment (or a hold of one) on the graph.
pub struct Voice {
    pub index: u64,
    pub hold: bool,
    pub placement: Placement,
    pub buffer: AudioBuffer,
    source: AudioBufferSourceNode,
    gain: GainNode,
    /// A fade-out is scheduled: a second one would cancel its curve mid-way, and Web Audio answers that
    /// by restoring the gain from before the curve (a jump back to full level).
    fading: bool,
}

impl AudioGraph {
    pub fn new(volume: f64, timer: Option<Plan>) -> Result<AudioGraph, String> {
        // At the segments' own rate: decoding then keeps every sample as it is (the overlap stays the very
        // audio heard before, a segment keeps its exact length), and the browser converts to the device's
        // rate once, on the continuous output, instead of each buffer on its own.
        let options = AudioContextOptions::new();
        options.set_sample_rate(SEGMENT_RATE);
        let context = AudioContext::new_with_context_options(&options).map_err(describe)?;
        let master = context.create_gain().map_err(describe)?;
        master.gain().set_value(volume as f32);
        let mut nodes = TimerNodes::new(&context, &master)?;
        nodes.set(&context, &master, timer)?;
        let analyser = context.create_analyser().map_err(describe)?;
        analyser.set_fft_size(LEVEL_FRAMES);
        nodes
            .output()
            .connect_with_audio_node(&analyser)
            .map_err(describe)?;
        // Play is a user gesture, so the context may start; a suspended one would stay silent.
        let _ = context.resume();
        Ok(AudioGraph {
            context,
            master,
            timer: nodes,
            analyser,
        })
    }

    /// How loud the music is now, 0 (−60 dBFS or less) to 1 (full scale), over the last 43 ms.
    pub fn level(&self) -> f32 {
        let mut frames = [0f32; LEVEL_FRAMES as usize];
        self.analyser.get_float_time_domain_data(&mut frames);
        let power = frames.iter().map(|x| x * x).sum::<f32>() / frames.len() as f32;
        let db = 10.0 * (power + 1e-12).log10();
        ((db + 60.0) / 60.0).clamp(0.0, 1.0)
    }

    /// Sets the timer afresh from now, or clears it.
    pub fn set_timer(&mut self, plan: Option<Plan>) -> Result<(), String> {
        self.timer.set(&self.context, &self.master, plan)
    }

    /// Where the timer stands, if one is set.
    pub fn timer(&self) -> Option<Reading> {
        self.timer.read(self.now())
    }

    /// Seconds on the audio clock.
    pub fn now(&self) -> f64 {
        self.context.current_time()
    }

    pub fn set_volume(&self, volume: f64) {
        let _ = self
            .master
            .gain()
            .set_target_at_time(volume as f32, self.now(), 0.05);
    }

    /// Starts decoding a WAV file; await the result with [`decoded`].
    pub fn decode(&self, bytes: &ArrayBuffer) -> Result<Promise, String> {
        self.context.decode_audio_data(bytes).map_err(describe)
    }

    /// Schedules `buffer` at `placement`.
    pub fn schedule(
        &self,
        index: u64,
        hold: bool,
        buffer: &AudioBuffer,
        placement: Placement,
        entry: Entry,
    ) -> Result<Voice, String> {
        let source = self.context.create_buffer_source().map_err(describe)?;
        source.set_buffer(Some(buffer));
        let gain = self.context.create_gain().map_err(describe)?;
        source.connect_with_audio_node(&gain).map_err(describe)?;
        gain.connect_with_audio_node(self.timer.input())
            .map_err(describe)?;
        let param = gain.gain();
        // Silent until its fade begins: a gain left at its default of 1 let the first frame through at full
        // level wherever the source's start and the automation's start round to different frames (a click
        // the end-to-end suite caught).
        param.set_value(0.0);
        param
            .set_value_at_time(0.0, placement.fade_in)
            .map_err(describe)?;
        match entry {
            Entry::Quick => {
                param
                    .linear_ramp_to_value_at_time(1.0, placement.fade_in + QUICK_FADE)
                    .map_err(describe)?;
            }
            Entry::Crossfade(seconds, blend) => {
                param
                    .set_value_curve_at_time(
                        &mut fade_curve(blend, CURVE_POINTS),
                        placement.fade_in,
                        seconds,
                    )
                    .map_err(describe)?;
            }
        }
        source
            .start_with_when_and_grain_offset(placement.fade_in, placement.offset.max(0.0))
            .map_err(describe)?;
        Ok(Voice {
            index,
            hold,
            placement,
            buffer: buffer.clone(),
            source,
            gain,
            fading: false,
        })
    }

    /// Fades `voice` out over `seconds` from `at`, then stops it; a voice already fading out, or silent
    /// by `at`, is left alone.
    pub fn fade_out(
        &self,
        voice: &mut Voice,
        at: f64,
        seconds: f64,
        blend: Blend,
    ) -> Result<(), String> {
        if voice.fading || voice.placement.end <= at {
            return Ok(());
        }
        voice.fading = true;
        let mut curve = fade_curve(blend, CURVE_POINTS);
        curve.reverse();
        let param = voice.gain.gain();
        param.cancel_scheduled_values(at).map_err(describe)?;
        param
            .set_value_curve_at_time(&mut curve, at, seconds)
            .map_err(describe)?;
        voice.placement.faded_out(at, seconds);
        scheduled(&voice.source)
            .stop_with_when(at + seconds)
            .map_err(describe)
    }

    /// Fades everything out quickly and closes the context, which releases every buffer.
    pub fn close(self) {
        let now = self.now();
        let _ = self.master.gain().cancel_scheduled_values(now);
        let _ = self
            .master
            .gain()
            .set_value_at_time(self.master.gain().value(), now);
        let _ = self
            .master
            .gain()
            .linear_ramp_to_value_at_time(0.0, now + QUICK_FADE);
        let context = self.context;
        wasm_bindgen_futures::spawn_local(async move {
            gloo_timers::future::TimeoutFuture::new(150).await;
            if let Ok(promise) = context.close() {
                let _ = JsFuture::from(promise).await;
            }
        });
    }
}

fn scheduled(source: &AudioBufferSourceNode) -> &AudioScheduledSourceNode {
    source.as_ref()
}

impl Voice {
    /// The voice as the plan and the visual timeline see it.
    pub fn view(&self) -> VoiceView {
        VoiceView {
            index: self.index,
            hold: self.hold,
            placement: self.placement,
        }
    }

    /// Stops and disconnects the voice so its buffer can be collected.
    pub fn release(self) {
        let _ = scheduled(&self.source).stop();
        let _ = self.source.disconnect();
        let _ = self.gain.disconnect();
    }
}

/// The buffer a [`AudioGraph::decode`] promise resolves to.
pub async fn decoded(promise: Promise) -> Result<AudioBuffer, String> {
    let buffer = JsFuture::from(promise)
        .await
        .map_err(|e| format!("cannot decode audio: {}", describe(e)))?;
    Ok(buffer.into())
}
