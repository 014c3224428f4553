//! Endless focus-music synthesizer in many styles: a pure function from (score, absolute time) to
//! stereo samples.
//!
//! The piece is rendered from any point of its timeline, so a repaint that keeps a seed's first seconds
//! and renders the rest from where they end continues without a seam; a changed prompt morphs into the
//! new style instead of cutting to it.

mod beds;
mod bus;
mod drums;
mod dsp;
mod ensemble;
mod harmony;
mod keys;
mod nature;
mod render;
mod score;
mod style;
#[cfg(test)]
mod tests;
mod voices;
mod words;

pub use score::Score;
pub use style::Style;

/// Longest morph from one prompt's music to the next.
const MORPH_SECONDS: f64 = 10.0;

/// Renders `frames` stereo frames of `to`'s music from `start` seconds on the piece's timeline. When the
/// music before was another score's (`from`), it morphs into `to` over at most [`MORPH_SECONDS`], and over
/// no more than half of what is rendered, so the new mood is heard within the segment.
pub fn continuation(
    from: Option<&Score>,
    to: &Score,
    start: f64,
    frames: usize,
    sample_rate: u32,
) -> (Vec<f32>, Vec<f32>) {
    match from {
        Some(from) if from != to => {
            let rendered = frames as f64 / f64::from(sample_rate.max(1));
            let morph = MORPH_SECONDS.min(rendered / 2.0);
            render::render_morph(from, to, start, morph, start, frames, sample_rate)
        }
        _ => render::render(to, start, frames, sample_rate),
    }
}
