//! The whole HTTP surface: the Leptos app (server-rendered, then hydrated), its static files, and the API.
//! The page's files go out compressed (brotli or gzip, as the browser accepts) and with a cache policy:
//! files whose names carry a content hash are kept for a year, everything else is revalidated.

use app::{shell, App};
use axum::extract::Request;
use axum::handler::HandlerWithoutStateExt;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, Response};
use axum::Router;
use leptos::config::LeptosOptions;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tower_http::compression::CompressionLayer;
use tower_http::services::ServeDir;

use crate::session::Sessions;

pub fn router(sessions: Sessions, options: LeptosOptions) -> Router {
    let routes = generate_route_list(App);
    // Static files with every header the browser sends (leptos_axum's own file handler drops the
    // conditional ones, so nothing was ever answered 304), and a plain "not found" page behind them.
    let files = ServeDir::new(&*options.site_root)
        .precompressed_br()
        .precompressed_gzip()
        .fallback(not_found.into_service());
    let services_page = leptos_axum::render_app_to_stream_with_context(
        {
            let options = options.clone();
            move || leptos::prelude::provide_context(options.clone())
        },
        {
            let options = options.clone();
            move || shell(options.clone())
        },
    );
    let pages = Router::new()
        .leptos_routes(&options, routes, {
            let options = options.clone();
            move || shell(options.clone())
        })
        // The app picks the page by path (it has no router): the services page is one more path to it.
        .route("/services", axum::routing::get(services_page))
        .fallback_service(files)
        .with_state(options)
        .layer(middleware::from_fn(cache_policy))
        // Compressed as they go out: the wasm once per visitor (it is then cached for a year), the page
        // in microseconds. Segments are not compressed (FLAC and Opus are compressed already, and a WAV
        // must keep its byte ranges): they belong to the API router.
        .layer(CompressionLayer::new())
        // The API's routes have their request spans from its own router.
        .layer(middleware::from_fn(crate::telemetry::request_span));
    crate::api::router(sessions).merge(pages)
}

/// The app is one page: any other path is not found.
async fn not_found() -> (StatusCode, Html<&'static str>) {
    (
        StatusCode::NOT_FOUND,
        Html(concat!(
            "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Not found · tsuzuki</title>",
            "</head><body><p>Nothing here. The music is at <a href=\"/\">tsuzuki</a>.</p></body></html>"
        )),
    )
}

async fn cache_policy(request: Request, next: Next) -> Response {
    let policy = cache_control(request.uri().path());
    let mut response = next.run(request).await;
    response
        .headers_mut()
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static(policy));
    response
}

/// A year and immutable for a file named with a content hash (`/pkg/tsuzuki.<hash>.wasm`): a new build
/// has new names. Everything else, the page first, is revalidated on every use.
fn cache_control(path: &str) -> &'static str {
    let name = path.rsplit('/').next().unwrap_or_default();
    let parts: Vec<&str> = name.split('.').collect();
    let hashed = path.starts_with("/pkg/")
        && parts.len() >= 3
        && parts[parts.len() - 2].len() >= 16
        && parts[parts.len() - 2]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if hashed {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_files_named_by_their_content_are_cached_for_good() {
        let year = "public, max-age=31536000, immutable";
        assert_eq!(cache_control("/pkg/tsuzuki.Xy9_ab-12345678901.wasm"), year);
        assert_eq!(cache_control("/pkg/tsuzuki.0123456789abcdef0123.js"), year);
        assert_eq!(cache_control("/pkg/tsuzuki.wasm"), "no-cache");
        assert_eq!(cache_control("/pkg/tsuzuki.css"), "no-cache");
        assert_eq!(cache_control("/"), "no-cache");
        assert_eq!(cache_control("/favicon.svg"), "no-cache");
        assert_eq!(
            cache_control("/other/a.0123456789abcdef0123.js"),
            "no-cache"
        );
    }
}
