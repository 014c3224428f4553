//! Moods: a prompt with the settings that suit it (volume, timer). Five presets for the common kinds of
//! work and rest, and the listener's own favourites, saved, renamed and deleted by name.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::settings::VOLUME;
use crate::timer::{Plan, LONG_BREAKS, POMODORO};

/// A mood the page can apply in one click.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Mood {
    pub name: String,
    pub prompt: String,
    pub volume: f64,
    pub timer: Option<Plan>,
}

/// The presets: what people reach for in a working day, and at its end.
pub fn presets() -> [Mood; 5] {
    let mood = |name: &str, prompt: &str, volume, timer| Mood {
        name: name.into(),
        prompt: prompt.into(),
        volume,
        timer,
    };
    let plan = |minutes, breaks, sleep| {
        Some(Plan {
            minutes,
            breaks,
            sleep,
        })
    };
    [
        mood(
            "Deep work",
            "deep focus ambient, warm evolving pads and a soft drone, no vocals, no drums, slow and steady",
            0.7,
            plan(90.0, Some(LONG_BREAKS), false),
        ),
        mood(
            "Creative flow",
            "lofi chillhop, mellow rhodes and dusty drums, relaxed groove 84 bpm, instrumental",
            0.75,
            None,
        ),
        mood(
            "Light focus",
            "bright soft piano over gentle pads, light and airy, instrumental, calm",
            0.65,
            plan(50.0, Some(POMODORO), false),
        ),
        mood(
            "Relax",
            "calm ambient with ocean waves, slow evolving pads, no beat",
            0.6,
            None,
        ),
        mood(
            "Sleep",
            "dark slow drone with soft rain, very calm, no drums, no melody",
            0.45,
            plan(45.0, None, true),
        ),
    ]
}

/// How many favourites the page keeps, and how long a name may be.
const MOST: usize = 30;
const NAME_CHARS: usize = 40;

/// Why a favourite could not be saved or renamed; the list is then left as it was.
#[derive(Clone, Debug, PartialEq)]
pub enum MoodError {
    NoName,
    NameTooLong,
    NameTaken(String),
    Full,
    Missing(String),
}

impl fmt::Display for MoodError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MoodError::NoName => write!(f, "Give the mood a name."),
            MoodError::NameTooLong => write!(f, "A name may have at most {NAME_CHARS} characters."),
            MoodError::NameTaken(name) => write!(f, "There is already a favourite named “{name}”."),
            MoodError::Full => write!(f, "You have {MOST} favourites; delete one to save another."),
            MoodError::Missing(name) => write!(f, "There is no favourite named “{name}”."),
        }
    }
}

fn valid_name(name: &str) -> Result<String, MoodError> {
    let name = name.trim();
    match name.chars().count() {
        0 => Err(MoodError::NoName),
        n if n > NAME_CHARS => Err(MoodError::NameTooLong),
        _ => Ok(name.to_string()),
    }
}

/// The stored favourites; an unreadable list is empty, and an unreadable entry is dropped.
pub fn parse(text: &str) -> Vec<Mood> {
    let entries: Vec<serde_json::Value> = serde_json::from_str(text).unwrap_or_default();
    entries
        .into_iter()
        .filter_map(|e| serde_json::from_value::<Mood>(e).ok())
        .filter(|m| {
            valid_name(&m.name).as_deref() == Ok(m.name.as_str())
                && VOLUME.parse(&m.volume.to_string()).is_some()
                && m.timer.is_none_or(|t| t.valid())
        })
        .take(MOST)
        .collect()
}

/// Saves `mood` under its name: a favourite of the same name is updated in place, a new one goes last.
pub fn save(list: &[Mood], mood: Mood) -> Result<Vec<Mood>, MoodError> {
    let mood = Mood {
        name: valid_name(&mood.name)?,
        ..mood
    };
    let mut list = list.to_vec();
    match list.iter().position(|m| m.name == mood.name) {
        Some(same) => list[same] = mood,
        None if list.len() >= MOST => return Err(MoodError::Full),
        None => list.push(mood),
    }
    Ok(list)
}

/// Renames the favourite `from`; the new name may not be another favourite's.
pub fn rename(list: &[Mood], from: &str, to: &str) -> Result<Vec<Mood>, MoodError> {
    let to = valid_name(to)?;
    if to != from && list.iter().any(|m| m.name == to) {
        return Err(MoodError::NameTaken(to));
    }
    let mut list = list.to_vec();
    let mood = list
        .iter_mut()
        .find(|m| m.name == from)
        .ok_or_else(|| MoodError::Missing(from.to_string()))?;
    mood.name = to;
    Ok(list)
}

/// The list without the favourite `name`.
pub fn delete(list: &[Mood], name: &str) -> Vec<Mood> {
    list.iter().filter(|m| m.name != name).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mood(name: &str) -> Mood {
        Mood {
            name: name.into(),
            prompt: format!("{name} music"),
            volume: 0.5,
            timer: None,
        }
    }

    #[test]
    fn presets_have_distinct_names_prompts_and_valid_settings() {
        let presets = presets();
        for (i, p) in presets.iter().enumerate() {
            assert!(VOLUME.parse(&p.volume.to_string()).is_some(), "{p:?}");
            assert!(p.timer.is_none_or(|t| t.valid()), "{p:?}");
            assert!(presets[..i]
                .iter()
                .all(|q| q.name != p.name && q.prompt != p.prompt));
        }
        assert!(
            presets[4].timer.is_some_and(|t| t.sleep),
            "Sleep ends on its own"
        );
    }

    #[test]
    fn saving_adds_a_new_name_and_updates_an_existing_one_in_place() {
        let list = save(&[], mood("Evening")).unwrap();
        let list = save(&list, mood("  Morning ")).unwrap();
        assert_eq!(list[1].name, "Morning", "names are trimmed");
        let changed = Mood {
            volume: 0.9,
            ..mood("Evening")
        };
        let list = save(&list, changed).unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!((list[0].name.as_str(), list[0].volume), ("Evening", 0.9));
    }

    #[test]
    fn bad_names_and_a_full_list_are_refused() {
        assert_eq!(save(&[], mood("   ")), Err(MoodError::NoName));
        assert_eq!(
            save(&[], mood(&"x".repeat(41))),
            Err(MoodError::NameTooLong)
        );
        let full: Vec<Mood> = (0..MOST).map(|i| mood(&format!("m{i}"))).collect();
        assert_eq!(save(&full, mood("one more")), Err(MoodError::Full));
        assert!(save(&full, mood("m3")).is_ok(), "updating needs no room");
    }

    #[test]
    fn renaming_keeps_the_place_and_refuses_a_taken_name() {
        let list = vec![mood("a"), mood("b")];
        let renamed = rename(&list, "a", "c").unwrap();
        assert_eq!(renamed[0].name, "c");
        assert_eq!(renamed[0].prompt, "a music");
        assert_eq!(
            rename(&list, "a", "b"),
            Err(MoodError::NameTaken("b".into()))
        );
        assert_eq!(rename(&list, "z", "y"), Err(MoodError::Missing("z".into())));
        assert_eq!(rename(&list, "a", " a ").unwrap(), list);
    }

    #[test]
    fn deleting_removes_only_that_name() {
        let list = vec![mood("a"), mood("b")];
        assert_eq!(delete(&list, "a"), vec![mood("b")]);
        assert_eq!(delete(&list, "z"), list);
    }

    #[test]
    fn stored_favourites_keep_what_is_readable() {
        let good = serde_json::to_string(&vec![mood("a"), mood("b")]).unwrap();
        assert_eq!(parse(&good).len(), 2);
        let mixed = r#"[{"name":"ok","prompt":"p","volume":0.5,"timer":null},
            {"name":"loud","prompt":"p","volume":7,"timer":null},
            {"name":"","prompt":"p","volume":0.5,"timer":null},
            {"oops":true}]"#;
        assert_eq!(parse(mixed).len(), 1);
        assert!(parse("not json").is_empty());
    }
}
