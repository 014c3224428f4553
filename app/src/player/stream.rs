//! The loop of one run: polls the server's status, and every tick carries out the [`plan`]: starts
//! downloads, puts voices on the audio graph, releases finished ones, and updates the page.

use std::cell::{RefCell, RefMut};
use std::collections::VecDeque;
use std::rc::Rc;

use leptos::prelude::*;
use web_sys::AudioBuffer;

use crate::api::{SessionState, StartRequest, Status};
use crate::timer::Phase;
use crate::view::{generator_words, heard_words, Notice, PlayerState, View, VoiceView};

use super::audio_graph::{self, AudioGraph, Voice};
use super::encoding::{self, Encoding, Link};
use super::lookahead::Lookahead;
use super::plan::{self, Kind, Schedule, Shown};
use super::sync::{NoSession, Sync, Verdict};
use super::telemetry::Telemetry;
use super::timeline::{correlation, Blend, Entry, Placement, Timeline};
use super::{end, halt, net, show, Run};

/// How often to ask the server for its status while music plays, and while waiting for the first sound.
const POLL_MS: f64 = 1000.0;
const POLL_WAITING_MS: f64 = 250.0;
const TICK_MS: u32 = 100;

/// Everything one run of the player knows.
struct Stream {
    segment: f64,
    overlap: f64,
    sync: Sync,
    voices: VecDeque<Voice>,
    /// The next segment, downloaded and decoded.
    pending: Option<(u64, AudioBuffer, Blend)>,
    downloading: Option<u64>,
    /// Do not retry a failed download before this page time (ms).
    retry_at: f64,
    /// Set when the server starts a new session: the next segment crossfades in at once.
    fresh: bool,
    latency: f64,
    lookahead: Lookahead,
    /// The encoding segments are downloaded in now, and what is known of the link that chooses it.
    encoding: Encoding,
    link: Link,
    telemetry: Telemetry,
}

/// The stream, to change. No borrow is ever held across an `.await`, so this always succeeds; were it not
/// to, the caller skips a step instead of panicking.
fn borrow(stream: &RefCell<Stream>) -> Option<RefMut<'_, Stream>> {
    let s = stream.try_borrow_mut().ok();
    if s.is_none() {
        net::log_error("the player's state is busy; skipping a step");
    }
    s
}

/// Runs the stream that `first` describes until the run is superseded.
pub async fn run(run: Run, first: Status) -> Result<(), String> {
    let stream = Rc::new(RefCell::new(Stream {
        segment: first.segment_seconds,
        overlap: first.overlap_seconds,
        sync: Sync::default(),
        voices: VecDeque::new(),
        pending: None,
        downloading: None,
        retry_at: 0.0,
        fresh: false,
        latency: 0.0,
        lookahead: Lookahead::default(),
        encoding: Encoding::default(),
        link: Link::default(),
        telemetry: Telemetry::default(),
    }));
    observe(&run, &stream, first).await;
    wasm_bindgen_futures::spawn_local(poll(run.clone(), stream.clone()));
    while run.current() {
        tick(&run, &stream)?;
        keep_time(&run);
        gloo_timers::future::TimeoutFuture::new(TICK_MS).await;
    }
    // The graph is closing with a short fade of its own; stopping the voices here could cut it off.
    if let Some(mut s) = borrow(&stream) {
        s.voices.clear();
    }
    Ok(())
}

/// Asks the server for its status until the run is superseded: in a loop of its own, so a slow answer
/// never delays a tick (a late tick would schedule its crossfade late).
async fn poll(run: Run, stream: Rc<RefCell<Stream>>) {
    let mut polled = net::now_ms();
    while run.current() {
        let waiting = borrow(&stream).is_none_or(|s| s.voices.is_empty());
        let interval = if waiting { POLL_WAITING_MS } else { POLL_MS };
        if net::now_ms() - polled >= interval {
            polled = net::now_ms();
            match run
                .json::<Status>("GET", "/session/status", None::<&()>)
                .await
            {
                Ok(status) if run.current() => observe(&run, &stream, status).await,
                Ok(_) => {}
                Err(_) => run.view.message.set(Some(
                    "Cannot reach the server; the music holds until it is back.".to_string(),
                )),
            }
        }
        gloo_timers::future::TimeoutFuture::new(TICK_MS).await;
    }
}

/// Takes in a status report.
async fn observe(run: &Run, stream: &Rc<RefCell<Stream>>, status: Status) {
    let view = run.view;
    let no_session = {
        let Some(mut s) = borrow(stream) else { return };
        match s
            .sync
            .observe(status.session_id.as_deref(), status.segment_index)
        {
            Verdict::Restarted => {
                net::log("the server started a new session; crossfading into it");
                s.telemetry.restarts += 1;
                s.pending = None;
                s.downloading = None;
                s.fresh = true;
                s.segment = status.segment_seconds;
                s.overlap = status.overlap_seconds;
            }
            Verdict::Stale => {
                net::log("ignored a stale status");
                s.telemetry.stale_discarded += 1;
            }
            Verdict::Same | Verdict::Newer(_) => {}
        }
        s.telemetry.session_id = s.sync.session_id.clone();
        (status.state == SessionState::Idle)
            .then(|| s.sync.no_session(status.stopped_session.as_deref()))
    };
    view.generating.set(status.generating_index);
    view.generator
        .set(generator_words(&status.backend, status.starting.as_ref()));
    view.heard.set(heard_words(&status.backend));
    view.progress.set(status.progress);
    match (&status.error, status.state) {
        (Some(error), SessionState::Error) => {
            view.message.set(Some(error.message.clone()));
            show(view, PlayerState::Error);
        }
        _ => view.message.set(None),
    }
    match no_session {
        Some(NoSession::StopToo) => {
            net::log("the session was stopped elsewhere; stopping here too");
            halt(&run.shared, view);
            view.notice.set(Some(Notice::StoppedElsewhere));
        }
        Some(NoSession::StartAnother) => {
            // The server lost the session (it restarted): music should not stop until the listener says
            // so, so start a new one and crossfade into it.
            net::log("the server has no session; starting a new one");
            let body = StartRequest {
                prompt: view.prompt.try_get_untracked(),
                focus_modulation: view.focus.try_get_untracked(),
            };
            if let Ok(status) = run
                .json::<Status>("POST", "/session/start", Some(&body))
                .await
            {
                Box::pin(observe(run, stream, status)).await;
            }
        }
        None => {}
    }
}

/// The listener's settings a tick reads.
struct Settings {
    crossfade: f64,
    max_lead: f64,
    data_saver: bool,
}

/// What a tick reads from the page; `None` once the page is gone.
fn seen(view: View) -> Option<(Settings, Shown)> {
    let shown = Shown {
        state: view.state.try_get_untracked()?,
        applies_from: view.applies_from.try_get_untracked()?,
        download: view.download.try_get_untracked()?,
        generating: view.generating.try_get_untracked()?,
        progress: view.progress.try_get_untracked()?,
    };
    let settings = Settings {
        crossfade: view.crossfade.try_get_untracked()?,
        max_lead: view.max_lead.try_get_untracked()?,
        data_saver: view.data_saver.try_get_untracked()?,
    };
    Some((settings, shown))
}

/// Plans the tick and carries the plan out.
fn tick(run: &Run, stream: &Rc<RefCell<Stream>>) -> Result<(), String> {
    let view = run.view;
    let Some(mut s) = borrow(stream) else {
        return Ok(());
    };
    let (Some(now), Some((settings, shown))) = (run.with_graph(AudioGraph::now), seen(view)) else {
        return Ok(());
    };
    s.lookahead.max_lead = settings.max_lead;
    let crossfade = settings.crossfade;
    let voices: Vec<VoiceView> = s.voices.iter().map(Voice::view).collect();
    let state = plan::State {
        timeline: Timeline::new(s.segment, s.overlap, crossfade),
        lookahead: s.lookahead,
        latency: s.latency,
        voices: &voices,
        pending: s.pending.as_ref().map(|(i, _, _)| *i),
        pending_blend: s
            .pending
            .as_ref()
            .map_or(Blend::Correlated, |(_, _, blend)| *blend),
        downloading: s.downloading,
        latest: s.sync.latest,
        fresh: s.fresh,
        retry_at: s.retry_at,
        shown,
    };
    let plan = plan::plan(&state, now, net::now_ms());

    if let Some(index) = plan.fetch {
        s.downloading = Some(index);
        let session = s.sync.session_id.clone();
        let (segment, max_lead) = (s.segment, settings.max_lead);
        s.encoding = encoding::choose(settings.data_saver, s.encoding, &s.link, segment, max_lead);
        let fetch = Fetch {
            index,
            encoding: s.encoding,
            session,
        };
        wasm_bindgen_futures::spawn_local(download(run.clone(), stream.clone(), fetch));
    }
    if let Some(schedule) = &plan.schedule {
        put(run, &mut s, schedule)?;
    }
    let finished = plan.release.min(s.voices.len().saturating_sub(1));
    s.voices.drain(..finished).for_each(Voice::release);

    if plan.audible.is_some() {
        view.segment.set(plan.audible);
    }
    if let Some(state) = plan.state {
        show(view, state);
    }
    if plan.mood_applied {
        view.applies_from.set(None);
    }
    s.telemetry.decoded_alive = plan.decoded_alive;
    s.telemetry.segment = plan.audible;
    s.telemetry.lead = plan.lead;
    s.telemetry.publish();
    view.telemetry.set(s.telemetry.clone());
    view.frame.set(plan.frame);
    Ok(())
}

/// Shows the time left, and ends the session once the timer has run out (its fade is over by then, on
/// the audio clock).
fn keep_time(run: &Run) {
    let reading = run.with_graph(AudioGraph::timer).flatten();
    run.view.time_left.set(reading.map(|r| r.words()));
    if reading.is_some_and(|r| r.phase == Phase::Ended) {
        net::log("the timer ran out; ending the session");
        end(run.shared.clone(), run.view, Some(Notice::TimerEnded));
    }
}

/// Puts the voice `schedule` describes on the graph, fading out the ones it replaces.
fn put(run: &Run, s: &mut Stream, schedule: &Schedule) -> Result<(), String> {
    let buffer = match schedule.kind {
        Kind::Hold => s.voices.back().map(|v| v.buffer.clone()),
        Kind::Start | Kind::Next => match s.pending.take() {
            Some((index, buffer, _)) if index == schedule.index => Some(buffer),
            other => {
                s.pending = other;
                None
            }
        },
    };
    let Some(buffer) = buffer else {
        // The plan came from this very state, so this does not happen; skipping beats a panic.
        net::log_error(&format!("segment {}: no audio to schedule", schedule.index));
        return Ok(());
    };
    // A hold's two voices are one buffer a few seconds apart: how much they share is measured, not assumed.
    let entry = match (schedule.entry, s.voices.back()) {
        (Entry::Crossfade(seconds, _), Some(out)) if schedule.hold() => {
            let rho = shared(&buffer, &out.placement, &schedule.placement, seconds);
            Entry::Crossfade(seconds, Blend::Uncorrelated(rho))
        }
        (entry, _) => entry,
    };
    let schedule = &Schedule { entry, ..*schedule };
    let (at, from) = (
        schedule.placement.fade_in,
        schedule.fades_from(s.voices.len()),
    );
    let voice = run.with_graph(|graph| -> Result<Voice, String> {
        let voice = graph.schedule(
            schedule.index,
            schedule.hold(),
            &buffer,
            schedule.placement,
            schedule.entry,
        )?;
        if let Entry::Crossfade(seconds, blend) = schedule.entry {
            for old in s.voices.iter_mut().skip(from) {
                graph.fade_out(old, at, seconds, blend)?;
            }
        }
        Ok(voice)
    });
    let Some(voice) = voice.transpose()? else {
        return Ok(()); // the run is over
    };
    s.voices.push_back(voice);
    s.telemetry.count(schedule);
    let index = schedule.index;
    match (schedule.kind, schedule.entry) {
        (Kind::Start, _) => {
            s.fresh = false;
            net::log(&format!("playback of segment {index} starts at {at:.2} s"));
        }
        (Kind::Next, Entry::Crossfade(seconds, _)) => net::log(&format!(
            "crossfade to segment {index} at {at:.2} s over {seconds:.1} s"
        )),
        (Kind::Next, Entry::Quick) => {}
        (Kind::Hold, entry) => net::log_error(&format!(
            "segment {} is late: holding the music (hold {}, {entry:?})",
            index.saturating_add(1),
            s.telemetry.holds
        )),
    }
    Ok(())
}

/// The correlation, over a crossfade of `seconds` into `into`, of `buffer` as placed at `out` and at
/// `into`: the audio of both voices through the crossfade, every channel.
fn shared(buffer: &AudioBuffer, out: &Placement, into: &Placement, seconds: f64) -> f64 {
    let rate = f64::from(buffer.sample_rate());
    let length = buffer.length() as usize;
    let stretch = |from: f64| -> Vec<f32> {
        let start = ((from * rate).round().max(0.0) as usize).min(length);
        let frames = ((seconds * rate) as usize).min(length - start);
        let mut all = Vec::with_capacity(frames * buffer.number_of_channels() as usize);
        for channel in 0..buffer.number_of_channels() {
            let mut part = vec![0.0; frames];
            // Only the stretch is copied, not the minute-long channel.
            if buffer
                .copy_from_channel_with_start_in_channel(&mut part, channel as i32, start as u32)
                .is_ok()
            {
                all.extend(part);
            }
        }
        all
    };
    let at = into.fade_in;
    correlation(&stretch(at - out.start), &stretch(at - into.start))
}

/// A download to make: which segment, in which encoding, for which session.
struct Fetch {
    index: u64,
    encoding: Encoding,
    session: Option<String>,
}

/// Downloads and decodes a segment in the background.
async fn download(run: Run, stream: Rc<RefCell<Stream>>, fetch: Fetch) {
    let view = run.view;
    let Fetch {
        index,
        encoding,
        session,
    } = fetch;
    let outcome = async {
        let got = net::segment(index, encoding, |p| view.download.set(Some((index, p)))).await?;
        // Decoding detaches the bytes (their length reads 0 after it): count them first.
        let bytes = got.bytes.byte_length();
        let promise = run
            .with_graph(|g| g.decode(&got.bytes))
            .ok_or("stopped")??;
        Ok::<_, String>((audio_graph::decoded(promise).await?, got, bytes))
    }
    .await;
    view.download.set(None);
    let Some(mut s) = borrow(&stream) else { return };
    s.downloading = None;
    match outcome {
        Ok((buffer, got, bytes)) => {
            let (took, blend) = (got.latency, got.blend);
            let music = s.segment;
            s.link.measured(f64::from(bytes), took, music, encoding);
            s.telemetry.received(encoding, bytes, music, got.resumes);
            let last = s.voices.back().map(|v| v.index);
            let starting = last.is_none() || s.fresh;
            let wanted = plan::wanted(
                last,
                s.fresh,
                s.pending.as_ref().map(|p| p.0),
                s.sync.latest,
            );
            if !run.current()
                || s.sync.session_id != session
                || (!starting && wanted != Some(index))
            {
                net::log(&format!("discarded segment {index}: no longer wanted"));
                s.telemetry.stale_discarded += 1;
                return;
            }
            // Weigh the slowest recent download most: the lead must cover the bad cases.
            s.latency = took.max(s.latency * 0.7);
            s.telemetry.last_latency = took;
            s.pending = Some((index, buffer, blend));
        }
        Err(e) => {
            net::log_error(&format!("segment {index}: {e}; trying again shortly"));
            s.retry_at = net::now_ms() + 1000.0;
        }
    }
}
