//! HTTP routes: the three WebSocket stream paths (with and without a trailing slash), a page for
//! browsers at `/`, `/health`, `/metrics` and the `example.json` endpoints.

use std::sync::Arc;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use certstream_shared::StreamKind;

use crate::ws::{self, MAX_INBOUND_BYTES};
use crate::AppState;

/// Paths of each stream kind; each is also served with a trailing `/`.
const STREAM_PATHS: [(&str, StreamKind); 3] = [
    ("/", StreamKind::Lite),
    ("/full-stream", StreamKind::Full),
    ("/domains-only", StreamKind::Domains),
];

/// Builds the router for the enabled endpoints.
pub fn router(state: Arc<AppState>) -> Router {
    let settings = &state.settings;
    let mut router = Router::new();
    for (path, kind) in STREAM_PATHS {
        let handler = move |upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
                            State(state): State<Arc<AppState>>| async move {
            stream_endpoint(kind, upgrade, state)
        };
        router = router.route(path, get(handler));
        if path != "/" {
            router = router.route(&format!("{path}/"), get(handler));
        }
        if settings.example_json_enabled {
            let example_path = match path {
                "/" => "/example.json".to_string(),
                other => format!("{other}/example.json"),
            };
            router = router.route(
                &example_path,
                get(move |state: State<Arc<AppState>>| example(kind, state)),
            );
        }
    }
    if settings.health_enabled {
        router = router.route("/health", get(health));
    }
    if settings.metrics_enabled {
        router = router.route("/metrics", get(certstream_shared::admin::metrics));
    }
    router.with_state(state)
}

fn stream_endpoint(
    kind: StreamKind,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    state: Arc<AppState>,
) -> Response {
    match upgrade {
        Ok(upgrade) if state.settings.ws_enabled => {
            let tracker = state.clients.clone();
            upgrade
                .max_message_size(MAX_INBOUND_BYTES)
                .max_frame_size(MAX_INBOUND_BYTES)
                .on_upgrade(move |socket| {
                    tracker.track_future(ws::serve_client(socket, kind, state))
                })
        }
        Ok(_) => (
            StatusCode::NOT_FOUND,
            "WebSocket endpoints are disabled on this server\n",
        )
            .into_response(),
        Err(_) if kind == StreamKind::Lite => Html(index_page()).into_response(),
        Err(rejection) => rejection.into_response(),
    }
}

async fn example(kind: StreamKind, State(state): State<Arc<AppState>>) -> Response {
    match state.hub.latest(kind) {
        Some(frame) => (
            [(header::CONTENT_TYPE, "application/json")],
            frame.to_string(),
        )
            .into_response(),
        None => (StatusCode::SERVICE_UNAVAILABLE, "no message received yet\n").into_response(),
    }
}

async fn health(State(state): State<Arc<AppState>>) -> Response {
    if state.bus.is_connected() {
        (StatusCode::OK, "OK\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "bus disconnected\n").into_response()
    }
}

fn index_page() -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>certstream</title></head>\n\
         <body><h1>certstream</h1>\n\
         <p>This server streams every certificate newly added to the trusted Certificate Transparency logs, \
         as JSON over WebSocket.</p>\n\
         <ul><li><code>/</code>: lite stream (no DER, no chain)</li>\
         <li><code>/full-stream</code>: full stream</li>\
         <li><code>/domains-only</code>: domain names only</li></ul>\n\
         <p>Example: <code>python -c \"import certstream; certstream.listen_for_events(print, url='ws://HOST/')\"</code></p>\n\
         <p>Version {}.</p></body></html>\n",
        env!("CARGO_PKG_VERSION")
    )
}
