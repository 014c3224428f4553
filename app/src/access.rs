//! Access to a server that guards its session endpoints with a bearer token: it answers `401` with
//! `WWW-Authenticate: Bearer` when it wants one. What to do about such a reply is decided here; the fetch
//! code (`player::net`) only carries it out.

/// Why the listener is asked for the token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ask {
    /// The server wants a token and none was sent.
    Needed,
    /// The token sent was refused (it is forgotten).
    Rejected,
}

impl Ask {
    pub fn message(self) -> &'static str {
        match self {
            Ask::Needed => "This server needs its access token to play.",
            Ask::Rejected => "That access token was not accepted; check it and enter it again.",
        }
    }
}

/// What to do with a reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// The reply stands: a success, or an error that is not about the token.
    Done,
    /// Send again: a token was stored (or changed) since this request went out.
    Retry,
    /// Ask the listener, then send again.
    Ask(Ask),
}

/// The error when the listener declines to give the token.
pub const DECLINED: &str = "This server needs its access token; press Retry to enter it.";

/// Decides about a reply with `status` and `WWW-Authenticate` header `challenge`, to a request sent with
/// token `sent`, while `stored` is the token stored now.
pub fn after(
    status: u16,
    challenge: Option<&str>,
    sent: Option<&str>,
    stored: Option<&str>,
) -> Step {
    let bearer = challenge.is_some_and(|c| {
        c.trim_start()
            .get(..6)
            .is_some_and(|scheme| scheme.eq_ignore_ascii_case("bearer"))
    });
    if status != 401 || !bearer {
        Step::Done
    } else if stored.is_some() && stored != sent {
        Step::Retry
    } else if sent.is_some() {
        Step::Ask(Ask::Rejected)
    } else {
        Step::Ask(Ask::Needed)
    }
}

/// What the listener typed, as a token: blanks around it dropped; nothing typed is no token.
pub fn token(typed: &str) -> Option<String> {
    Some(typed.trim())
        .filter(|t| !t.is_empty())
        .map(str::to_string)
}

/// The `Authorization` header for `token`.
pub fn authorization(token: &str) -> String {
    format!("Bearer {token}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_guarded_server_without_a_token_asks_for_one() {
        assert_eq!(
            after(401, Some("Bearer"), None, None),
            Step::Ask(Ask::Needed)
        );
        assert_eq!(
            after(401, Some("bearer realm=\"tsuzuki\""), None, None),
            Step::Ask(Ask::Needed)
        );
    }

    #[test]
    fn a_wrong_token_asks_again_and_says_so() {
        let step = after(401, Some("Bearer"), Some("old"), Some("old"));
        assert_eq!(step, Step::Ask(Ask::Rejected));
        assert!(Ask::Rejected.message().contains("not accepted"));
    }

    #[test]
    fn a_token_stored_meanwhile_is_tried_before_asking() {
        assert_eq!(after(401, Some("Bearer"), None, Some("new")), Step::Retry);
        assert_eq!(
            after(401, Some("Bearer"), Some("old"), Some("new")),
            Step::Retry
        );
    }

    #[test]
    fn other_replies_stand() {
        assert_eq!(after(200, None, Some("t"), Some("t")), Step::Done);
        assert_eq!(after(409, None, None, None), Step::Done);
        // A 401 that is not a bearer challenge is an ordinary error, shown as it is.
        assert_eq!(after(401, None, None, None), Step::Done);
        assert_eq!(after(401, Some("Basic"), None, None), Step::Done);
        assert_eq!(after(401, Some("Bear"), None, None), Step::Done);
    }

    #[test]
    fn typed_tokens_are_trimmed_and_blank_is_none() {
        assert_eq!(token("  s3cret \n").as_deref(), Some("s3cret"));
        assert_eq!(token("   "), None);
        assert_eq!(authorization("s3cret"), "Bearer s3cret");
    }
}
