//! The `result` string of a `/query_result` entry: a list serialised the way Python's `json.dumps` does it by
//! default (`", "` and `": "` separators, non-ASCII escaped as `\uXXXX`), with ACE-Step's key order per state.

use std::io;

use serde::Serialize;
use serde_json::{Map, Value};

use super::params::Params;
use super::Mode;

/// A finished job's outputs.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Done {
    /// `/v1/audio?path=...` per file; a single `""` when the audio came out silent.
    pub files: Vec<String>,
    pub seeds: Vec<u64>,
    /// The duration the job aimed at, in seconds.
    pub seconds: f64,
    pub dit_model: String,
    /// `ACESTEP_LM_MODEL_PATH` or its default, not necessarily the LM that ran (a quirk).
    pub lm_model: String,
}

#[derive(Serialize)]
struct Head<'a> {
    file: &'a str,
    wave: &'static str,
    status: u8,
    create_time: i64,
    env: &'static str,
}

impl Head<'_> {
    fn new(file: &str, status: u8, create_time: i64) -> Head<'_> {
        Head {
            file,
            wave: "",
            status,
            create_time,
            env: "development",
        }
    }
}

#[derive(Serialize)]
struct Queued {
    #[serde(flatten)]
    head: Head<'static>,
    prompt: &'static str,
    lyrics: &'static str,
    metas: Map<String, Value>,
    progress: f64,
    stage: &'static str,
    error: Option<String>,
}

#[derive(Serialize)]
struct Progress<'a> {
    #[serde(flatten)]
    head: Head<'static>,
    progress: f64,
    stage: &'a str,
}

#[derive(Serialize)]
struct Metas<'a> {
    bpm: Value,
    duration: f64,
    genres: &'static str,
    keyscale: &'a str,
    timesignature: &'a str,
    prompt: &'a str,
    lyrics: &'a str,
}

#[derive(Serialize)]
struct Succeeded<'a> {
    #[serde(flatten)]
    head: Head<'a>,
    prompt: &'a str,
    lyrics: &'a str,
    metas: Metas<'a>,
    generation_info: String,
    seed_value: String,
    lm_model: &'a str,
    dit_model: &'a str,
    progress: f64,
    stage: &'static str,
}

/// Not yet picked up by the worker (read from the job store, hence the extra keys).
pub(crate) fn queued(create_time: i64) -> String {
    python_json(&[Queued {
        head: Head::new("", 0, create_time),
        prompt: "",
        lyrics: "",
        metas: Map::new(),
        progress: 0.0,
        stage: "queued",
        error: None,
    }])
}

pub(crate) fn running(create_time: i64, progress: f64, stage: &str) -> String {
    python_json(&[Progress {
        head: Head::new("", 0, create_time),
        progress,
        stage,
    }])
}

#[derive(Serialize)]
struct Failed<'a> {
    #[serde(flatten)]
    head: Head<'static>,
    progress: f64,
    stage: &'static str,
    error: Option<&'a str>,
}

/// February gives no error text: ACE-Step keeps it in its log (upstream PR #1300). The current server
/// carries the recorded error, `null` when there was none.
pub(crate) fn failed(create_time: i64, mode: Mode, error: Option<&str>) -> String {
    let head = Head::new("", 2, create_time);
    match mode {
        Mode::February => python_json(&[Progress {
            head,
            progress: 0.0,
            stage: "failed",
        }]),
        Mode::Current => python_json(&[Failed {
            head,
            progress: 0.0,
            stage: "failed",
            error,
        }]),
    }
}

/// One element per file.
pub(crate) fn succeeded(create_time: i64, params: &Params, done: &Done) -> String {
    let seed_value = done
        .seeds
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let na = |text: &'_ str| if text.is_empty() { "N/A" } else { text }.to_string();
    let (keyscale, timesignature) = (na(&params.key_scale), na(&params.time_signature));
    let generation_info = format!(
        "**Task:** {}\n**Duration:** {:.1}s\n**Seeds:** {seed_value}\n**DiT:** {}",
        params.task_type, done.seconds, done.dit_model
    );
    let elements: Vec<Succeeded> = done
        .files
        .iter()
        .map(|file| Succeeded {
            head: Head::new(file, 1, create_time),
            prompt: &params.prompt,
            lyrics: &params.lyrics,
            metas: Metas {
                bpm: params.bpm.map_or_else(|| Value::from("N/A"), Value::from),
                duration: done.seconds,
                genres: "N/A",
                keyscale: &keyscale,
                timesignature: &timesignature,
                prompt: &params.prompt,
                lyrics: &params.lyrics,
            },
            generation_info: generation_info.clone(),
            seed_value: seed_value.clone(),
            lm_model: &done.lm_model,
            dit_model: &done.dit_model,
            progress: 1.0,
            stage: "succeeded",
        })
        .collect();
    python_json(&elements)
}

fn python_json<T: Serialize + ?Sized>(value: &T) -> String {
    let mut out = Vec::new();
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, PythonFormatter);
    // Serialising plain structs into memory cannot fail.
    value.serialize(&mut serializer).expect("serialisable");
    String::from_utf8(out).expect("ASCII only")
}

/// `json.dumps` defaults: `", "`/`": "` separators and `ensure_ascii=True`.
struct PythonFormatter;

impl serde_json::ser::Formatter for PythonFormatter {
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.begin_array_value(writer, first)
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        writer.write_all(b": ")
    }

    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        for c in fragment.chars() {
            if (' '..='~').contains(&c) {
                writer.write_all(&[c as u8])?;
            } else {
                for unit in c.encode_utf16(&mut [0; 2]) {
                    write!(writer, "\\u{unit:04x}")?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> Params {
        let mut p = Params::from_fields(&Map::new());
        p.prompt = "B♭ dub".into();
        p.lyrics = "[inst]".into();
        p.bpm = Some(120);
        p.key_scale = "C major".into();
        p.time_signature = "4".into();
        p
    }

    #[test]
    fn queued_running_and_failed_match_the_spec_byte_for_byte() {
        assert_eq!(
            queued(1770000000),
            r#"[{"file": "", "wave": "", "status": 0, "create_time": 1770000000, "env": "development", "prompt": "", "lyrics": "", "metas": {}, "progress": 0.0, "stage": "queued", "error": null}]"#
        );
        assert_eq!(
            running(1770000000, 0.52, "Generating music (batch size: 1)..."),
            r#"[{"file": "", "wave": "", "status": 0, "create_time": 1770000000, "env": "development", "progress": 0.52, "stage": "Generating music (batch size: 1)..."}]"#
        );
        assert_eq!(
            failed(1770000000, Mode::February, Some("ignored")),
            r#"[{"file": "", "wave": "", "status": 2, "create_time": 1770000000, "env": "development", "progress": 0.0, "stage": "failed"}]"#
        );
    }

    #[test]
    fn current_failures_carry_the_recorded_error() {
        assert_eq!(
            failed(
                1770000000,
                Mode::Current,
                Some("Insufficient free VRAM: need ~0.8 GB")
            ),
            r#"[{"file": "", "wave": "", "status": 2, "create_time": 1770000000, "env": "development", "progress": 0.0, "stage": "failed", "error": "Insufficient free VRAM: need ~0.8 GB"}]"#
        );
        assert!(failed(0, Mode::Current, None).ends_with(r#""stage": "failed", "error": null}]"#));
    }

    #[test]
    fn success_has_one_element_per_file_in_acestep_key_order() {
        let done = Done {
            files: vec![
                "/v1/audio?path=%2Fa.wav".into(),
                "/v1/audio?path=%2Fb.wav".into(),
            ],
            seeds: vec![12, 34],
            seconds: 60.0,
            dit_model: "acestep-v15-sft".into(),
            lm_model: "acestep-5Hz-lm-0.6B".into(),
        };
        let text = succeeded(1770000000, &params(), &done);
        let expected_first = concat!(
            r#"{"file": "/v1/audio?path=%2Fa.wav", "wave": "", "status": 1, "create_time": 1770000000, "env": "development", "#,
            r#""prompt": "B\u266d dub", "lyrics": "[inst]", "metas": {"bpm": 120, "duration": 60.0, "genres": "N/A", "#,
            r#""keyscale": "C major", "timesignature": "4", "prompt": "B\u266d dub", "lyrics": "[inst]"}, "#,
            r#""generation_info": "**Task:** text2music\n**Duration:** 60.0s\n**Seeds:** 12,34\n**DiT:** acestep-v15-sft", "#,
            r#""seed_value": "12,34", "lm_model": "acestep-5Hz-lm-0.6B", "dit_model": "acestep-v15-sft", "#,
            r#""progress": 1.0, "stage": "succeeded"}"#
        );
        assert!(
            text.starts_with(&format!("[{expected_first}, {{")),
            "{text}"
        );
        let list: Vec<Value> = serde_json::from_str(&text).unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[1]["file"], "/v1/audio?path=%2Fb.wav");
        assert_eq!(list[0]["prompt"], "B♭ dub");
    }

    #[test]
    fn missing_metas_are_reported_as_na() {
        let mut p = params();
        (p.bpm, p.key_scale) = (None, String::new());
        let done = Done {
            files: vec![String::new()],
            seeds: vec![1],
            seconds: 8.0,
            dit_model: "acestep-v15-turbo".into(),
            lm_model: "acestep-5Hz-lm-1.7B".into(),
        };
        let list: Vec<Value> = serde_json::from_str(&succeeded(0, &p, &done)).unwrap();
        assert_eq!(list[0]["metas"]["bpm"], "N/A");
        assert_eq!(list[0]["metas"]["keyscale"], "N/A");
        assert_eq!(list[0]["file"], "");
    }

    #[test]
    fn python_escapes_control_and_astral_characters() {
        assert_eq!(
            python_json(&["a\"\n\u{7f}🎵"]),
            r#"["a\"\n\u007f\ud83c\udfb5"]"#
        );
    }
}
