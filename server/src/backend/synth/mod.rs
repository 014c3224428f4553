//! The embedded synthesizer backend: generative ambient music on the CPU, so tsuzuki runs everywhere.
//!
//! The engine renders an endless piece as a pure function of time on the session's timeline. A repaint
//! keeps the seed's first seconds sample for sample and renders the rest from the timeline point where
//! they end, so the continuation has no seam; a changed prompt morphs into the new style after the overlap.

use app::api::BackendInfo;
use async_trait::async_trait;
use tokio::sync::watch;

use tsuzuki_audio::synth::{continuation, Score, Style};
use tsuzuki_audio::{convert, frames_in, wav, Audio};

use super::{Backend, BackendError, Job, Task};

pub struct Synth {
    sample_rate: u32,
}

impl Synth {
    pub fn new(sample_rate: u32) -> Synth {
        Synth { sample_rate }
    }
}

/// The prompt's words the synthesizer uses, and those it cannot.
pub fn words(prompt: &str) -> (Vec<String>, Vec<String>) {
    let style = Style::from_prompt(prompt);
    (style.heard().to_vec(), style.ignored().to_vec())
}

/// Renders `job` (blocking; CPU-bound).
pub fn make(job: &Job, sample_rate: u32) -> Result<Audio, BackendError> {
    let frames = frames_in(job.duration_seconds, sample_rate);
    let score = |prompt: &str| Score {
        seed: job.session_seed,
        style: Style::from_prompt(prompt),
    };
    let to = score(&job.prompt);
    let (keep, head) = match &job.task {
        Task::Text2Music => (0, None),
        Task::Repaint {
            source,
            repainting_start,
        } => {
            let seed = wav::read(source).map_err(|e| BackendError::Protocol(e.to_string()))?;
            let seed = convert::to_layout(seed, sample_rate, 2, frames);
            (
                frames_in(*repainting_start, sample_rate).min(frames),
                Some(seed),
            )
        }
    };
    let start = job.timeline_seconds + keep as f64 / f64::from(sample_rate);
    let rest = frames - keep;
    let from = job.previous_prompt.as_deref().map(score);
    let (left, right) = continuation(from.as_ref(), &to, start, rest, sample_rate);
    let channels = match head {
        None => vec![left, right],
        Some(seed) => seed
            .channels
            .into_iter()
            .zip([left, right])
            .map(|(mut kept, new)| {
                kept.truncate(keep);
                kept.extend(new);
                kept
            })
            .collect(),
    };
    Ok(Audio {
        sample_rate,
        channels,
    })
}

#[async_trait]
impl Backend for Synth {
    fn info(&self) -> BackendInfo {
        BackendInfo {
            kind: "synth".into(),
            model: Some("tsuzuki-styles".into()),
            lm_model: None,
            lm_fallback_reason: None,
            active: "synth".into(),
            bridge_reason: None,
            bridge_detail: None,
            heard: None,
            ignored: None,
        }
    }

    async fn check(&self) -> Result<(), BackendError> {
        Ok(())
    }

    async fn generate(
        &self,
        job: &Job,
        progress: &watch::Sender<f32>,
    ) -> Result<Audio, BackendError> {
        let (job, rate) = (job.clone(), self.sample_rate);
        let audio = tokio::task::spawn_blocking(move || make(&job, rate))
            .await
            .map_err(|e| BackendError::Failed(e.to_string()))??;
        progress.send_replace(1.0);
        Ok(audio)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: u32 = 48_000;

    fn job(index: u64, task: Task, prompt: &str, previous: Option<&str>) -> Job {
        Job {
            index,
            task,
            prompt: prompt.into(),
            previous_prompt: previous.map(Into::into),
            duration_seconds: 8.0,
            timeline_seconds: index as f64 * 6.0,
            session_seed: 7,
        }
    }

    /// Renders segment 0, builds its seed, repaints segment 1 and returns both.
    fn two_segments(second_prompt: &str) -> (Audio, Audio) {
        let first = make(&job(0, Task::Text2Music, "calm piano", None), RATE).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let seed_path = dir.path().join("seed.wav");
        let seed = tsuzuki_audio::seed::build(&first, frames_in(2.0, RATE), frames_in(8.0, RATE));
        wav::write(&seed_path, &seed).unwrap();
        let repaint = Task::Repaint {
            source: seed_path,
            repainting_start: 2.0,
        };
        let second = make(&job(1, repaint, second_prompt, Some("calm piano")), RATE).unwrap();
        (first, second)
    }

    #[test]
    fn repaint_keeps_the_overlap_and_continues_without_a_seam() {
        let (first, second) = two_segments("calm piano");
        assert_eq!(second.frames(), frames_in(8.0, RATE));
        let overlap = frames_in(2.0, RATE);
        let tail = first.frames() - overlap;
        for c in 0..2 {
            // The overlap is the seed's audio (to 16-bit precision)...
            for i in 0..overlap {
                assert!(
                    (second.channels[c][i] - first.channels[c][tail + i]).abs() <= 1.0 / 32767.0
                );
            }
            // ...and the step into new audio is no larger than the music's own steps.
            let own = first.channels[c]
                .windows(2)
                .map(|w| (w[1] - w[0]).abs())
                .fold(0.0, f32::max);
            let seam = (second.channels[c][overlap] - second.channels[c][overlap - 1]).abs();
            assert!(seam <= own, "seam step {seam} > largest step {own}");
        }
    }

    #[test]
    fn a_new_prompt_changes_the_music_after_the_overlap() {
        let (_, same) = two_segments("calm piano");
        let (_, changed) = two_segments("dark rain drone 60 bpm");
        let overlap = frames_in(2.0, RATE);
        assert_eq!(same.channels[0][..overlap], changed.channels[0][..overlap]);
        let end = same.frames() - RATE as usize;
        let differing = same.channels[0][end..]
            .iter()
            .zip(&changed.channels[0][end..])
            .filter(|(a, b)| (*a - *b).abs() > 1e-3)
            .count();
        assert!(
            differing > RATE as usize / 2,
            "only {differing} samples differ"
        );
    }

    #[test]
    fn an_unreadable_seed_is_an_error() {
        let task = Task::Repaint {
            source: "/nonexistent/seed.wav".into(),
            repainting_start: 2.0,
        };
        assert!(matches!(
            make(&job(1, task, "x", None), RATE),
            Err(BackendError::Protocol(_))
        ));
    }
}
