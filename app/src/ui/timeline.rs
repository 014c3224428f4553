//! The live timeline: the playing and next segments, their overlap, the crossfade window and the playhead,
//! drawn to scale on the audio clock.

use leptos::prelude::*;

use crate::view::{Frame, Stage, Upcoming, VoiceView};

/// Width of the drawing in SVG units.
const WIDTH: f64 = 1000.0;

/// The x position of audio time `t` in a window starting `before` seconds before `now` and `span` long.
fn x(t: f64, frame: &Frame, span: f64) -> f64 {
    ((t - (frame.now - 0.08 * span)) / span * WIDTH).clamp(-10.0, WIDTH + 10.0)
}

fn lane(voice: &VoiceView, row: usize, frame: &Frame, span: f64) -> impl IntoView {
    let p = voice.placement;
    let y = 8.0 + row as f64 * 30.0;
    let segment_end = p.start + frame.segment;
    let overlap_start = segment_end - frame.overlap;
    let label = if voice.hold {
        format!("hold of {}", voice.index)
    } else {
        format!("segment {}", voice.index)
    };
    let class = if voice.hold { "lane hold" } else { "lane" };
    view! {
        <g class=class>
            <rect class="extent" x=x(p.start, frame, span) y=y height="22"
                width=(x(segment_end, frame, span) - x(p.start, frame, span)).max(0.0)/>
            <rect class="audible" x=x(p.fade_in, frame, span) y=y height="22"
                width=(x(p.end, frame, span) - x(p.fade_in, frame, span)).max(0.0)/>
            <rect class="overlap" x=x(overlap_start, frame, span) y=y height="22"
                width=(x(segment_end, frame, span) - x(overlap_start, frame, span)).max(0.0)/>
            <rect class="crossfade" x=x(p.fade_out, frame, span) y=y - 3.0 height="28"
                width=(x(p.end, frame, span) - x(p.fade_out, frame, span)).max(0.0)/>
            <text x=x(p.fade_in, frame, span).max(0.0) + 6.0 y=y + 15.0>{label}</text>
        </g>
    }
}

/// The next segment: an outline where it will play, filled as far as it has been generated or downloaded.
fn upcoming(next: &Upcoming, row: usize, frame: &Frame, span: f64) -> impl IntoView {
    let p = next.placement;
    let y = 8.0 + row as f64 * 30.0;
    let (from, to) = (
        x(p.start, frame, span),
        x(p.start + frame.segment, frame, span),
    );
    let (fill, label) = match next.stage {
        Stage::Generating(done) => (
            done,
            format!("segment {}: generating {:.0}%", next.index, done * 100.0),
        ),
        Stage::Downloading(done) => (
            done,
            format!("segment {}: downloading {:.0}%", next.index, done * 100.0),
        ),
        Stage::Ready => (1.0, format!("segment {}: ready", next.index)),
    };
    let class = match next.stage {
        Stage::Generating(_) => "next generating",
        Stage::Downloading(_) => "next downloading",
        Stage::Ready => "next ready",
    };
    view! {
        <g class=class>
            <rect class="outline" x=from y=y height="22" width=(to - from).max(0.0)/>
            <rect class="done" x=from y=y height="22" width=((to - from) * fill.clamp(0.0, 1.0)).max(0.0)/>
            <text x=from.max(0.0) + 6.0 y=y + 15.0>{label}</text>
        </g>
    }
}

#[component]
pub fn Timeline(frame: RwSignal<Frame>) -> impl IntoView {
    view! {
        <svg class="timeline" viewBox="0 0 1000 100" preserveAspectRatio="xMidYMid meet" role="img"
            aria-label="Timeline of the playing and next segments">
            {move || {
                let frame = frame.get();
                let span = (frame.segment * 1.3).max(1.0);
                let lanes = frame.voices.iter().rev().take(2).rev().enumerate()
                    .map(|(row, v)| lane(v, row, &frame, span).into_any())
                    .collect::<Vec<_>>();
                let next = frame.upcoming.as_ref().map(|n| upcoming(n, lanes.len(), &frame, span));
                let head = x(frame.now, &frame, span);
                view! {
                    {lanes}
                    {next}
                    <line class="playhead" x1=head x2=head y1="0" y2="100"/>
                }
            }}
        </svg>
        <p class="legend">
            <span class="key audible"></span>"playing"
            <span class="key overlap"></span>"overlap"
            <span class="key crossfade"></span>"crossfade"
            <span class="key hold"></span>"hold (next segment late)"
            <span class="key next"></span>"next segment"
        </p>
    }
}
