//! The services page's requests: the stored access token goes with each; a server that wants one (or
//! refuses the one sent) makes the page ask for it, once, and the player uses it too.

use serde::de::DeserializeOwned;
use wasm_bindgen_futures::JsFuture;

use crate::access::{Ask, Step};
use crate::fetch::{checked, describe, with_token};

pub(super) enum Failure {
    /// The server wants its access token.
    Token(Ask),
    Other(String),
}

/// `GET url` as JSON.
pub(super) async fn get<T: DeserializeOwned>(url: &str) -> Result<T, Failure> {
    let text = call("GET", url).await?;
    serde_json::from_str(&text).map_err(|e| Failure::Other(format!("{url}: {e}")))
}

/// `POST url` with no body; the reply's content does not matter.
pub(super) async fn post(url: &str) -> Result<(), Failure> {
    call("POST", url).await.map(drop)
}

async fn call(method: &str, url: &str) -> Result<String, Failure> {
    loop {
        match with_token(method, url, None)
            .await
            .map_err(Failure::Other)?
        {
            (reply, Step::Done) => {
                let reply = checked(method, url, reply).await.map_err(Failure::Other)?;
                let text = reply.text().map_err(|e| Failure::Other(describe(e)))?;
                let text = JsFuture::from(text)
                    .await
                    .map_err(|e| Failure::Other(describe(e)))?;
                return Ok(text.as_string().unwrap_or_default());
            }
            (_, Step::Retry) => {}
            (_, Step::Ask(ask)) => return Err(Failure::Token(ask)),
        }
    }
}
