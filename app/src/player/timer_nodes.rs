//! The timer on the audio graph: a break gain where the voices meet, an ending gain after the volume, and
//! the chimes, all scheduled on the audio clock the moment the timer is set, so they keep time in a
//! background tab whose timers the browser throttles.

use web_sys::{AudioContext, AudioParam, AudioScheduledSourceNode, GainNode, OscillatorNode};

use crate::timer::{fade_curve, Plan, Reading, REST_GAIN, REST_RAMP};

use super::audio_graph::describe;

/// A chime's partials (Hz), peak gains and ring times (s): a soft bell on A5, the higher partials fading
/// first.
const PARTIALS: [(f32, f32, f64); 3] =
    [(880.0, 0.08, 2.5), (1318.5, 0.04, 1.8), (2217.5, 0.02, 1.2)];
/// A chime's attack, seconds: soft, but no click.
const ATTACK: f64 = 0.01;
/// Points in the ending fade's curve.
const FADE_POINTS: usize = 512;
/// How long a changed or cleared timer takes to bring the music back to full level, seconds.
const RESET: f64 = 0.5;

pub struct TimerNodes {
    /// Where the voices meet: softened through breaks.
    rest: GainNode,
    /// After the volume: the ending fade.
    ending: GainNode,
    /// The chimes scheduled, each partial an oscillator with its envelope.
    chimes: Vec<(OscillatorNode, GainNode)>,
    /// The plan, and when it began on the audio clock.
    set: Option<(Plan, f64)>,
}

impl TimerNodes {
    /// Wires `rest` → `volume` → `ending` → the speakers.
    pub fn new(context: &AudioContext, volume: &GainNode) -> Result<TimerNodes, String> {
        let rest = context.create_gain().map_err(describe)?;
        let ending = context.create_gain().map_err(describe)?;
        rest.connect_with_audio_node(volume).map_err(describe)?;
        volume.connect_with_audio_node(&ending).map_err(describe)?;
        ending
            .connect_with_audio_node(&context.destination())
            .map_err(describe)?;
        Ok(TimerNodes {
            rest,
            ending,
            chimes: Vec::new(),
            set: None,
        })
    }

    /// Where the voices connect.
    pub fn input(&self) -> &GainNode {
        &self.rest
    }

    /// What goes to the speakers.
    pub fn output(&self) -> &GainNode {
        &self.ending
    }

    /// Replaces the timer with `plan`, counted from now (`None`: no timer). Whatever the old one had
    /// scheduled is cancelled and the music returns smoothly to full level.
    pub fn set(
        &mut self,
        context: &AudioContext,
        volume: &GainNode,
        plan: Option<Plan>,
    ) -> Result<(), String> {
        let now = context.current_time();
        for param in [self.rest.gain(), self.ending.gain()] {
            back_to_full(&param, now)?;
        }
        for (oscillator, gain) in self.chimes.drain(..) {
            let source: &AudioScheduledSourceNode = oscillator.as_ref();
            let _ = source.stop();
            let _ = oscillator.disconnect();
            let _ = gain.disconnect();
        }
        self.set = plan.map(|p| (p, now));
        let Some(plan) = plan else { return Ok(()) };
        let rest = self.rest.gain();
        for (a, b) in plan.rests() {
            rest.set_value_at_time(1.0, now + a).map_err(describe)?;
            rest.exponential_ramp_to_value_at_time(REST_GAIN, now + a + REST_RAMP)
                .map_err(describe)?;
            rest.set_value_at_time(REST_GAIN, now + b)
                .map_err(describe)?;
            rest.exponential_ramp_to_value_at_time(1.0, now + b + REST_RAMP)
                .map_err(describe)?;
        }
        let fade = plan.fade();
        self.ending
            .gain()
            .set_value_curve_at_time(
                &mut fade_curve(FADE_POINTS),
                now + plan.seconds() - fade,
                fade,
            )
            .map_err(describe)?;
        for at in plan.chimes() {
            self.chime(context, volume, now + at)?;
        }
        Ok(())
    }

    /// A chime at `at`, into the volume (a break's softening does not soften its own chime).
    fn chime(&mut self, context: &AudioContext, volume: &GainNode, at: f64) -> Result<(), String> {
        for (frequency, peak, ring) in PARTIALS {
            let oscillator = context.create_oscillator().map_err(describe)?;
            oscillator.frequency().set_value(frequency);
            let gain = context.create_gain().map_err(describe)?;
            let envelope = gain.gain();
            envelope.set_value(0.0);
            envelope.set_value_at_time(0.0, at).map_err(describe)?;
            envelope
                .linear_ramp_to_value_at_time(peak, at + ATTACK)
                .map_err(describe)?;
            envelope
                .exponential_ramp_to_value_at_time(peak * 1e-3, at + ring)
                .map_err(describe)?;
            envelope
                .linear_ramp_to_value_at_time(0.0, at + ring + 0.05)
                .map_err(describe)?;
            oscillator
                .connect_with_audio_node(&gain)
                .map_err(describe)?;
            gain.connect_with_audio_node(volume).map_err(describe)?;
            let source: &AudioScheduledSourceNode = oscillator.as_ref();
            source.start_with_when(at).map_err(describe)?;
            source.stop_with_when(at + ring + 0.1).map_err(describe)?;
            self.chimes.push((oscillator, gain));
        }
        Ok(())
    }

    /// Where the timer stands at `now` on the audio clock, if one is set.
    pub fn read(&self, now: f64) -> Option<Reading> {
        self.set.map(|(plan, start)| plan.read(now - start))
    }
}

/// Holds `param` where it is now and takes it back to 1: cancelling automation mid-ramp would otherwise
/// jump to the value before the ramp.
fn back_to_full(param: &AudioParam, now: f64) -> Result<(), String> {
    let value = param.value();
    param.cancel_scheduled_values(now).map_err(describe)?;
    param.set_value_at_time(value, now).map_err(describe)?;
    param
        .linear_ramp_to_value_at_time(1.0, now + RESET)
        .map_err(describe)?;
    Ok(())
}
