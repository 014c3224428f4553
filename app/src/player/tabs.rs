//! One tab at a time: the page's tabs in one browser tell each other when one starts playing (a
//! `BroadcastChannel`, same origin only), so two never sound at once, and a tab opened while another plays
//! offers to take over instead of joining in.

use wasm_bindgen::prelude::*;
use web_sys::{BroadcastChannel, MessageEvent};

/// What one tab tells the others.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Word {
    /// "I play now": the others fall silent.
    Playing,
    /// "I stopped the music."
    Stopped,
    /// "Does any tab play?": a playing tab answers `Playing`.
    WhoPlays,
}

impl Word {
    fn as_str(self) -> &'static str {
        match self {
            Word::Playing => "playing",
            Word::Stopped => "stopped",
            Word::WhoPlays => "who-plays",
        }
    }

    fn parse(text: &str) -> Option<Word> {
        [Word::Playing, Word::Stopped, Word::WhoPlays]
            .into_iter()
            .find(|w| w.as_str() == text)
    }
}

/// What a tab does on hearing another's word.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Reply {
    /// Another tab took over: silence this one, leaving the server's session running for it.
    Yield,
    /// Tell the asking tab that this one plays.
    Answer,
    /// Another tab plays: say so, and offer to take over.
    ShowPlayingElsewhere,
    /// The music was stopped in another tab.
    ShowStopped,
    Nothing,
}

/// Decides what a tab that is (or is not) `playing` does on hearing `word`.
pub fn hear(word: Word, playing: bool) -> Reply {
    match (word, playing) {
        (Word::Playing, true) => Reply::Yield,
        (Word::Playing, false) => Reply::ShowPlayingElsewhere,
        (Word::WhoPlays, true) => Reply::Answer,
        (Word::Stopped, false) => Reply::ShowStopped,
        // A tab that plays has just taken over from the one that stopped, or was asked by a tab that does not.
        (Word::Stopped, true) | (Word::WhoPlays, false) => Reply::Nothing,
    }
}

/// The page's end of the channel; dropped with the page.
pub struct Channel {
    channel: BroadcastChannel,
    _on_message: Closure<dyn Fn(MessageEvent)>,
}

impl Channel {
    /// Opens the channel, calling `on_word` for every word another tab says; `None` where the browser has
    /// no `BroadcastChannel` (the page then plays as if it were the only tab).
    pub fn open(on_word: impl Fn(Word) + 'static) -> Option<Channel> {
        let channel = BroadcastChannel::new("tsuzuki-player").ok()?;
        let on_message = Closure::<dyn Fn(MessageEvent)>::new(move |event: MessageEvent| {
            if let Some(word) = event.data().as_string().as_deref().and_then(Word::parse) {
                on_word(word);
            }
        });
        channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        Some(Channel {
            channel,
            _on_message: on_message,
        })
    }

    pub fn tell(&self, word: Word) {
        let _ = self.channel.post_message(&word.as_str().into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_survive_the_channel() {
        for word in [Word::Playing, Word::Stopped, Word::WhoPlays] {
            assert_eq!(Word::parse(word.as_str()), Some(word));
        }
        assert_eq!(Word::parse("play"), None);
    }

    #[test]
    fn only_one_tab_plays_and_the_others_say_where_the_music_is() {
        // A tab that starts playing silences the one that played.
        assert_eq!(hear(Word::Playing, true), Reply::Yield);
        assert_eq!(hear(Word::Playing, false), Reply::ShowPlayingElsewhere);
        // A tab opening asks; only a playing tab answers, so an idle one never offers a take-over.
        assert_eq!(hear(Word::WhoPlays, true), Reply::Answer);
        assert_eq!(hear(Word::WhoPlays, false), Reply::Nothing);
        assert_eq!(hear(Word::Stopped, false), Reply::ShowStopped);
        assert_eq!(hear(Word::Stopped, true), Reply::Nothing);
    }
}
