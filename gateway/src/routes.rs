//! HTTP routes: the three WebSocket stream paths (with and without a trailing slash), `/sse`, a
//! page for browsers at `/`, `/health`, `/metrics`, `/stats.json` and the `example.json`
//! endpoints.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use certstream_shared::StreamKind;
use yawc::IncomingUpgrade;

use crate::access::{Permit, Rejection};
use crate::{metrics, page, sse, ws, AppState};

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
        let handler = move |method: Method,
                            headers: HeaderMap,
                            upgrade: Result<IncomingUpgrade, StatusCode>,
                            ConnectInfo(peer): ConnectInfo<SocketAddr>,
                            State(state): State<Arc<AppState>>| async move {
            let upgrade = check_upgrade_request(&method, &headers).and(upgrade.map_err(|_| {
                "invalid WebSocket handshake: Sec-WebSocket-Key or version 13 missing"
            }));
            stream_endpoint(kind, upgrade, peer, &headers, state)
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
    if settings.sse_enabled {
        router = router
            .route("/sse", get(sse_endpoint))
            .route("/sse/", get(sse_endpoint));
    }
    if settings.health_enabled {
        router = router.route("/health", get(health));
    }
    if settings.metrics_enabled {
        router = router.route("/metrics", get(certstream_shared::admin::metrics));
    }
    router.route("/stats.json", get(stats)).with_state(state)
}

/// Authenticates the client and takes a connection slot.
fn admit(
    peer: SocketAddr,
    headers: &HeaderMap,
    state: &Arc<AppState>,
) -> Result<Permit, Rejection> {
    state
        .access
        .authorize(headers)
        .and_then(|()| state.access.acquire(state.access.client_ip(peer, headers)))
        .inspect_err(|rejection| metrics::rejected(rejection.as_label()))
}

/// Builds the HTTP response for a rejected client.
fn reject(rejection: Rejection) -> Response {
    let mut response = (rejection.status(), rejection.message()).into_response();
    if rejection == Rejection::Unauthorized {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer"),
        );
    }
    response
}

/// Checks the headers of a WebSocket handshake that yawc's extractor leaves unchecked: the
/// method and the `Connection` and `Upgrade` headers (RFC 6455 section 4.2.1).
fn check_upgrade_request(method: &Method, headers: &HeaderMap) -> Result<(), &'static str> {
    if method != Method::GET {
        return Err("a WebSocket handshake must use GET");
    }
    let has_token = |name: header::HeaderName, token: &str| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .any(|item| item.trim().eq_ignore_ascii_case(token))
    };
    if !has_token(header::CONNECTION, "upgrade") {
        return Err("Connection header did not include 'upgrade'");
    }
    if !has_token(header::UPGRADE, "websocket") {
        return Err("Upgrade header did not include 'websocket'");
    }
    Ok(())
}

fn stream_endpoint(
    kind: StreamKind,
    upgrade: Result<IncomingUpgrade, &'static str>,
    peer: SocketAddr,
    headers: &HeaderMap,
    state: Arc<AppState>,
) -> Response {
    let upgrade = match upgrade {
        Ok(upgrade) if state.settings.ws_enabled => upgrade,
        Ok(_) => {
            return (
                StatusCode::NOT_FOUND,
                "WebSocket endpoints are disabled on this server\n",
            )
                .into_response()
        }
        Err(_) if kind == StreamKind::Lite => return Html(page::index()).into_response(),
        Err(message) => return (StatusCode::BAD_REQUEST, format!("{message}\n")).into_response(),
    };
    let permit = match admit(peer, headers, &state) {
        Ok(permit) => permit,
        Err(rejection) => return reject(rejection),
    };
    let (response, upgraded) = match upgrade.upgrade(state.ws_options.clone()) {
        Ok(accepted) => accepted,
        Err(err) => {
            tracing::debug!(error = %err, "WebSocket handshake rejected");
            return (StatusCode::BAD_REQUEST, "invalid WebSocket handshake\n").into_response();
        }
    };
    // The upgrade completes once hyper has sent the response, so the task waits for it.
    let tracker = state.clients.clone();
    tokio::spawn(tracker.track_future(ws::serve_client(upgraded, kind, state, permit)));
    response.into_response()
}

#[derive(serde::Deserialize)]
struct SseQuery {
    stream: Option<String>,
}

async fn sse_endpoint(
    Query(query): Query<SseQuery>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    State(state): State<Arc<AppState>>,
) -> Response {
    let kind = match sse::parse_stream(query.stream.as_deref()) {
        Ok(kind) => kind,
        Err(message) => return (StatusCode::BAD_REQUEST, format!("{message}\n")).into_response(),
    };
    match admit(peer, &headers, &state) {
        Ok(permit) => sse::respond(kind, state, permit),
        Err(rejection) => reject(rejection),
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

/// Live counters for the HTML page: connections and messages received per stream.
async fn stats(State(state): State<Arc<AppState>>) -> Response {
    let body = serde_json::json!({
        "connections": state.access.connections(),
        "messages_received": {
            "lite": metrics::frames_received(StreamKind::Lite).get(),
            "full": metrics::frames_received(StreamKind::Full).get(),
            "domains": metrics::frames_received(StreamKind::Domains).get(),
        },
        "uptime_secs": state.started.elapsed().as_secs(),
    });
    (
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}
