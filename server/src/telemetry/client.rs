//! The exporters' HTTP client: the server's own reqwest, on its tokio runtime. The SDK exports from threads
//! of its own and blocks on the future it is given, so the request is spawned onto the runtime, which owns
//! the connections; a blocking client (the SDK's default) would bring a second reqwest and a runtime of its
//! own into an async server.

use async_trait::async_trait;
use bytes::Bytes;
use opentelemetry_http::{HttpClient, HttpError};
use tokio::runtime::Handle;

#[derive(Clone, Debug)]
pub(super) struct RuntimeClient {
    http: reqwest::Client,
    runtime: Handle,
}

impl RuntimeClient {
    /// A client on the current runtime; `None` outside one.
    pub(super) fn here(http: reqwest::Client) -> Option<RuntimeClient> {
        let runtime = Handle::try_current().ok()?;
        Some(RuntimeClient { http, runtime })
    }
}

#[async_trait]
impl HttpClient for RuntimeClient {
    async fn send_bytes(
        &self,
        request: http::Request<Bytes>,
    ) -> Result<http::Response<Bytes>, HttpError> {
        let request = reqwest::Request::try_from(request)?;
        let http = self.http.clone();
        // The exporter reads the status itself (it retries 429 and 503 as their Retry-After says).
        let sent = self.runtime.spawn(async move {
            let reply = http.execute(request).await?;
            let (status, headers) = (reply.status(), reply.headers().clone());
            let mut response = http::Response::new(reply.bytes().await?);
            *response.status_mut() = status;
            *response.headers_mut() = headers;
            Ok::<_, HttpError>(response)
        });
        sent.await?
    }
}
