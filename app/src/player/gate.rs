//! Asking the listener for the server's access token: the inline form shows while `view.asking` is set,
//! and a request that needs the token waits for the answer. Requests that need it meanwhile wait for the
//! same answer, so the listener is asked once.

use std::cell::RefCell;

use js_sys::{Function, Promise};
use leptos::prelude::*;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;

use crate::access::{self, Ask};
use crate::view::View;

/// The question being asked, as a promise the answer resolves.
#[derive(Default)]
pub struct Gate {
    question: RefCell<Option<(Promise, Function)>>,
}

impl Gate {
    /// Shows the form with `ask`'s message and waits: the token entered, or `None` if the listener declined.
    pub async fn ask(&self, view: View, ask: Ask) -> Option<String> {
        let promise = {
            let mut question = self.question.try_borrow_mut().ok()?;
            match question.as_ref() {
                Some((promise, _)) => promise.clone(),
                None => {
                    let mut resolve = None;
                    let promise = Promise::new(&mut |yes, _no| resolve = Some(yes));
                    *question = Some((promise.clone(), resolve?));
                    promise
                }
            }
        };
        view.asking.set(Some(ask));
        let answer = JsFuture::from(promise).await.ok()?.as_string();
        answer.as_deref().and_then(access::token)
    }

    /// The listener's answer (`None`: declined), for every request waiting.
    pub fn answer(&self, view: View, token: Option<&str>) {
        view.asking.set(None);
        let question = self
            .question
            .try_borrow_mut()
            .ok()
            .and_then(|mut q| q.take());
        if let Some((_, resolve)) = question {
            let answer = token.map_or(JsValue::NULL, JsValue::from_str);
            let _ = resolve.call1(&JsValue::NULL, &answer);
        }
    }
}
