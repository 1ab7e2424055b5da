//! The gateway's transports against real sockets on 127.0.0.1: frames published on the
//! in-process bus reach WebSocket, SSE and TCP clients byte for byte, and access rules, slow
//! clients and shutdown behave as documented.

use std::time::Duration;

use bytes::Bytes;
use certstream_shared::bus::MemoryBus;
use certstream_shared::{Bus, Settings, StreamKind};
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(10);

struct Gateway {
    address: String,
    tcp_address: Option<String>,
    bus: Bus,
    shutdown: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Gateway {
    async fn start(args: &[&str]) -> Gateway {
        let mut all = vec![
            "test",
            "--host",
            "127.0.0.1",
            "--heartbeat-interval-secs",
            "0",
        ];
        all.extend_from_slice(args);
        let settings = Settings::try_from_args(all).expect("valid test settings");
        let tcp = match settings.tcp_enabled {
            true => Some(TcpListener::bind("127.0.0.1:0").await.unwrap()),
            false => None,
        };
        let tcp_address = tcp
            .as_ref()
            .map(|listener| listener.local_addr().unwrap().to_string());
        let bus = Bus::Memory(MemoryBus::new(64));
        let http = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = http.local_addr().unwrap().to_string();
        let shutdown = CancellationToken::new();
        let listeners = certstream_gateway::Listeners { http, tcp };
        let task = tokio::spawn(certstream_gateway::run(
            settings,
            bus.clone(),
            listeners,
            shutdown.clone(),
        ));
        // The relays subscribe before `run` accepts connections; give them that moment.
        tokio::time::sleep(Duration::from_millis(100)).await;
        Gateway {
            address,
            tcp_address,
            bus,
            shutdown,
            task,
        }
    }

    async fn publish(&self, kind: StreamKind, text: &str) {
        self.bus
            .publish_frame(kind, "test_log", Bytes::from(text.to_string()))
            .await
            .unwrap();
    }

    async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(WAIT, self.task)
            .await
            .expect("gateway stops in time")
            .unwrap()
            .unwrap();
    }
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

async fn connect(gateway: &Gateway, path: &str) -> Socket {
    let url = format!("ws://{}{path}", gateway.address);
    let (socket, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("WebSocket connects");
    socket
}

async fn next_text(socket: &mut Socket) -> String {
    loop {
        let message = tokio::time::timeout(WAIT, socket.next())
            .await
            .expect("message in time")
            .unwrap()
            .unwrap();
        match message {
            Message::Text(text) => return text.to_string(),
            Message::Binary(_) => panic!("server sent a Binary frame"),
            _ => continue,
        }
    }
}

/// Each path receives only its own stream, as Text frames, byte for byte.
#[tokio::test]
async fn websocket_paths_receive_their_stream() {
    let gateway = Gateway::start(&[]).await;
    let mut lite = connect(&gateway, "/").await;
    let mut full = connect(&gateway, "/full-stream/?token=ignored").await;
    let mut domains = connect(&gateway, "/domains-only").await;
    tokio::time::sleep(Duration::from_millis(50)).await;

    gateway
        .publish(
            StreamKind::Full,
            r#"{"message_type":"certificate_update","n":"full"}"#,
        )
        .await;
    gateway
        .publish(
            StreamKind::Lite,
            r#"{"message_type":"certificate_update","n":"lite"}"#,
        )
        .await;
    gateway
        .publish(
            StreamKind::Domains,
            r#"{"message_type":"dns_entries","data":["a.example"]}"#,
        )
        .await;

    assert_eq!(
        next_text(&mut lite).await,
        r#"{"message_type":"certificate_update","n":"lite"}"#
    );
    assert_eq!(
        next_text(&mut full).await,
        r#"{"message_type":"certificate_update","n":"full"}"#
    );
    assert_eq!(
        next_text(&mut domains).await,
        r#"{"message_type":"dns_entries","data":["a.example"]}"#
    );
    gateway.stop().await;
}

/// Builds a message long enough to be above the gateway's compression threshold.
fn long_message(n: usize) -> String {
    let domains: Vec<String> = (0..40)
        .map(|i| format!("\"host{i}.example.com\""))
        .collect();
    format!(
        r#"{{"message_type":"dns_entries","n":{n},"data":[{}]}}"#,
        domains.join(",")
    )
}

/// Sends an HTTP/1.1 WebSocket handshake by hand and returns the socket and the response head.
async fn raw_handshake(gateway: &Gateway, extensions: Option<&str>) -> (TcpStream, String) {
    let mut stream = TcpStream::connect(&gateway.address).await.unwrap();
    let extension_header = extensions
        .map(|value| format!("Sec-WebSocket-Extensions: {value}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "GET /domains-only HTTP/1.1\r\nHost: {}\r\nConnection: Upgrade\r\n\
         Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n{extension_header}\r\n",
        gateway.address
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(stream.read_u8().await.unwrap());
    }
    (stream, String::from_utf8(head).unwrap())
}

/// Reads one unmasked server frame and returns its first header byte and its payload.
async fn read_raw_frame(stream: &mut TcpStream) -> (u8, Vec<u8>) {
    let first = stream.read_u8().await.unwrap();
    let length = match stream.read_u8().await.unwrap() {
        126 => u64::from(stream.read_u16().await.unwrap()),
        127 => stream.read_u64().await.unwrap(),
        short => u64::from(short),
    };
    let mut payload = vec![0; length as usize];
    stream.read_exact(&mut payload).await.unwrap();
    (first, payload)
}

/// Inflates one permessage-deflate message (RFC 7692 section 7.2.2) with a fresh context.
fn inflate_message(payload: &[u8]) -> String {
    let mut input = payload.to_vec();
    input.extend_from_slice(&[0x00, 0x00, 0xff, 0xff]);
    let mut inflater = flate2::Decompress::new(false);
    let mut output = Vec::with_capacity(64 * 1024);
    inflater
        .decompress_vec(&input, &mut output, flate2::FlushDecompress::Sync)
        .unwrap();
    String::from_utf8(output).unwrap()
}

/// A client that offers permessage-deflate gets it without server context takeover, so each
/// compressed message inflates on its own; short messages stay uncompressed.
#[tokio::test]
async fn websocket_deflate_when_offered() {
    let gateway = Gateway::start(&[]).await;
    let (mut stream, head) =
        raw_handshake(&gateway, Some("permessage-deflate; client_max_window_bits")).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    let extensions = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("sec-websocket-extensions")
                .then(|| value.trim().to_string())
        })
        .expect("response has a Sec-WebSocket-Extensions header");
    assert!(extensions.starts_with("permessage-deflate"), "{extensions}");
    assert!(
        extensions.contains("server_no_context_takeover"),
        "{extensions}"
    );
    tokio::time::sleep(Duration::from_millis(50)).await;

    let short = r#"{"n":"short"}"#;
    gateway.publish(StreamKind::Domains, &long_message(1)).await;
    gateway.publish(StreamKind::Domains, &long_message(2)).await;
    gateway.publish(StreamKind::Domains, short).await;
    for n in 1..=2 {
        let (first, payload) = tokio::time::timeout(WAIT, read_raw_frame(&mut stream))
            .await
            .expect("message in time");
        assert_eq!(first, 0xC1, "FIN, RSV1 (compressed) and Text");
        assert!(payload.len() < long_message(n).len(), "payload is deflated");
        assert_eq!(inflate_message(&payload), long_message(n));
    }
    let (first, payload) = tokio::time::timeout(WAIT, read_raw_frame(&mut stream))
        .await
        .expect("message in time");
    assert_eq!(first, 0x81, "FIN and Text, not compressed");
    assert_eq!(payload, short.as_bytes());
    gateway.stop().await;
}

/// A client that does not offer permessage-deflate gets no extension and plain Text frames.
#[tokio::test]
async fn websocket_plain_when_not_offered() {
    let gateway = Gateway::start(&[]).await;
    let url = format!("ws://{}/domains-only", gateway.address);
    let (mut socket, response) = tokio_tungstenite::connect_async(url)
        .await
        .expect("WebSocket connects");
    assert!(
        response.headers().get("sec-websocket-extensions").is_none(),
        "{:?}",
        response.headers()
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    gateway.publish(StreamKind::Domains, &long_message(1)).await;
    assert_eq!(next_text(&mut socket).await, long_message(1));

    let (mut stream, head) = raw_handshake(&gateway, None).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(
        !head
            .to_ascii_lowercase()
            .contains("sec-websocket-extensions"),
        "{head}"
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    gateway.publish(StreamKind::Domains, &long_message(2)).await;
    let (first, payload) = tokio::time::timeout(WAIT, read_raw_frame(&mut stream))
        .await
        .expect("message in time");
    assert_eq!(first, 0x81, "FIN and Text, not compressed");
    assert_eq!(payload, long_message(2).as_bytes());
    gateway.stop().await;
}

/// A close frame from the client gets a close frame with the same code in reply.
#[tokio::test]
async fn client_close_gets_reply() {
    let gateway = Gateway::start(&[]).await;
    let mut socket = connect(&gateway, "/").await;
    socket
        .send(Message::Close(Some(tungstenite::protocol::CloseFrame {
            code: CloseCode::Normal,
            reason: "done".into(),
        })))
        .await
        .unwrap();
    let reply = loop {
        match tokio::time::timeout(WAIT, socket.next())
            .await
            .expect("close reply in time")
        {
            Some(Ok(Message::Close(frame))) => break frame.expect("close frame with a code"),
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    assert_eq!(reply.code, CloseCode::Normal);
    gateway.stop().await;
}

/// A plain GET of `/` returns the HTML page, and of another stream path HTTP 400.
#[tokio::test]
async fn plain_get_of_stream_paths() {
    let gateway = Gateway::start(&[]).await;
    let page = reqwest_get(&format!("http://{}/", gateway.address)).await;
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains("text/html"), "{page}");
    let full = reqwest_get(&format!("http://{}/full-stream/", gateway.address)).await;
    assert!(full.starts_with("HTTP/1.1 400"), "{full}");
    gateway.stop().await;
}

/// Shutdown sends close code 1001 to connected WebSocket clients.
#[tokio::test]
async fn shutdown_sends_going_away() {
    let gateway = Gateway::start(&[]).await;
    let mut socket = connect(&gateway, "/").await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let stopping = tokio::spawn(gateway.stop());
    let close = loop {
        match tokio::time::timeout(WAIT, socket.next())
            .await
            .expect("close in time")
        {
            Some(Ok(Message::Close(frame))) => break frame.expect("close frame with a code"),
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    assert_eq!(close.code, CloseCode::Away);
    stopping.await.unwrap();
}

/// The heartbeat message arrives at the configured interval.
#[tokio::test]
async fn heartbeat_message_arrives() {
    let gateway = Gateway::start(&["--heartbeat-interval-secs", "1"]).await;
    let mut socket = connect(&gateway, "/").await;
    let text = next_text(&mut socket).await;
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(value["message_type"], "heartbeat");
    assert!(value["timestamp"].is_f64(), "timestamp is a float: {text}");
    gateway.stop().await;
}

/// Client frames are ignored, and a frame above 64 KiB closes the connection.
#[tokio::test]
async fn inbound_frames_ignored_and_capped() {
    let gateway = Gateway::start(&[]).await;
    let mut socket = connect(&gateway, "/").await;
    socket.send(Message::text("ping")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    gateway.publish(StreamKind::Lite, r#"{"n":1}"#).await;
    assert_eq!(next_text(&mut socket).await, r#"{"n":1}"#);

    socket
        .send(Message::text("x".repeat(70 * 1024)))
        .await
        .unwrap();
    let ended = loop {
        match tokio::time::timeout(WAIT, socket.next())
            .await
            .expect("server reacts in time")
        {
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break true,
            Some(Ok(_)) => continue,
        }
    };
    assert!(ended);
    gateway.stop().await;
}

/// The over-limit connection is rejected with HTTP 429 before the upgrade.
#[tokio::test]
async fn per_ip_limit_rejects_with_429() {
    let gateway = Gateway::start(&[
        "--connection-limit-enabled",
        "--connection-limit-per-ip-limit",
        "2",
    ])
    .await;
    let _first = connect(&gateway, "/").await;
    let _second = connect(&gateway, "/full-stream").await;
    let url = format!("ws://{}/domains-only", gateway.address);
    match tokio_tungstenite::connect_async(url).await {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 429),
        other => panic!("third connection should get 429, got {other:?}"),
    }
    gateway.stop().await;
}

/// With authentication on, a missing or wrong token gets 401 and the right one streams.
#[tokio::test]
async fn bearer_token_required() {
    let gateway = Gateway::start(&["--auth-enabled", "--auth-tokens", "s3cret"]).await;
    let url = format!("ws://{}/", gateway.address);
    match tokio_tungstenite::connect_async(url.as_str()).await {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 401),
        other => panic!("expected 401 without a token, got {other:?}"),
    }
    let mut request =
        tungstenite::client::IntoClientRequest::into_client_request(url.as_str()).unwrap();
    request
        .headers_mut()
        .insert("Authorization", "Bearer wrong".parse().unwrap());
    match tokio_tungstenite::connect_async(request).await {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 401),
        other => panic!("expected 401 with a wrong token, got {other:?}"),
    }
    let mut request =
        tungstenite::client::IntoClientRequest::into_client_request(url.as_str()).unwrap();
    request
        .headers_mut()
        .insert("Authorization", "Bearer s3cret".parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("token accepted");
    tokio::time::sleep(Duration::from_millis(50)).await;
    gateway.publish(StreamKind::Lite, r#"{"n":2}"#).await;
    assert_eq!(next_text(&mut socket).await, r#"{"n":2}"#);

    let health = reqwest_get(&format!("http://{}/health", gateway.address)).await;
    assert!(
        health.starts_with("HTTP/1.1 200"),
        "health stays open: {health}"
    );
    gateway.stop().await;
}

/// SSE delivers `data:` events and rejects an unknown stream name.
#[tokio::test]
async fn sse_streams_events() {
    let gateway = Gateway::start(&["--sse-enabled"]).await;
    let response = reqwest_get(&format!("http://{}/sse?stream=nope", gateway.address)).await;
    assert!(response.starts_with("HTTP/1.1 400"), "{response}");

    let mut stream = TcpStream::connect(&gateway.address).await.unwrap();
    // HTTP/1.0 makes the server send the body as is, without chunked encoding.
    let request = format!(
        "GET /sse?stream=full HTTP/1.0\r\nHost: {}\r\n\r\n",
        gateway.address
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut reader = BufReader::new(stream);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        tokio::time::timeout(WAIT, reader.read_line(&mut line))
            .await
            .unwrap()
            .unwrap();
        if line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    assert!(
        head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200"),
        "{head}"
    );
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/event-stream"),
        "{head}"
    );
    assert!(
        head.to_ascii_lowercase()
            .contains("access-control-allow-origin: *"),
        "{head}"
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    gateway.publish(StreamKind::Full, r#"{"n":"sse"}"#).await;
    let mut body = String::new();
    while !body.contains("\n\n") {
        let mut chunk = [0u8; 256];
        let read = tokio::time::timeout(WAIT, reader.read(&mut chunk))
            .await
            .unwrap()
            .unwrap();
        body.push_str(&String::from_utf8_lossy(&chunk[..read]));
    }
    assert!(body.contains("data: {\"n\":\"sse\"}\n\n"), "{body:?}");
    gateway.stop().await;
}

/// Raw TCP: `f` selects the full stream, silence selects lite; lines end with `\n`.
#[tokio::test]
async fn tcp_selects_stream_by_first_byte() {
    let gateway = Gateway::start(&["--tcp-enabled"]).await;
    let tcp_address = gateway.tcp_address.clone().unwrap();
    let mut full = TcpStream::connect(&tcp_address).await.unwrap();
    full.write_all(b"f").await.unwrap();
    let lite = TcpStream::connect(&tcp_address).await.unwrap();
    // Lite is chosen after one second without a selection byte.
    tokio::time::sleep(Duration::from_millis(1300)).await;
    gateway.publish(StreamKind::Full, r#"{"n":"full"}"#).await;
    gateway.publish(StreamKind::Lite, r#"{"n":"lite"}"#).await;

    let mut full_lines = BufReader::new(full).lines();
    let mut lite_lines = BufReader::new(lite).lines();
    let full_line = tokio::time::timeout(WAIT, full_lines.next_line())
        .await
        .unwrap()
        .unwrap();
    let lite_line = tokio::time::timeout(WAIT, lite_lines.next_line())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(full_line.as_deref(), Some(r#"{"n":"full"}"#));
    assert_eq!(lite_line.as_deref(), Some(r#"{"n":"lite"}"#));
    gateway.stop().await;
}

/// A client that never reads is disconnected and does not hold messages for others.
#[tokio::test]
async fn stalled_client_is_disconnected() {
    let gateway = Gateway::start(&[
        "--buffer-size",
        "4",
        "--client-max-lag-events",
        "2",
        "--client-write-timeout-secs",
        "1",
    ])
    .await;
    let stalled = connect(&gateway, "/").await;
    let mut healthy = connect(&gateway, "/").await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let frame = format!(r#"{{"pad":"{}"}}"#, "x".repeat(32 * 1024));
    // 64 MiB in total: more than the loopback socket buffers of the stalled client can absorb.
    for _ in 0..2000 {
        gateway.publish(StreamKind::Lite, &frame).await;
        // The healthy client keeps reading.
        assert_eq!(next_text(&mut healthy).await.len(), frame.len());
    }
    let deadline = tokio::time::Instant::now() + WAIT;
    let disconnected = loop {
        let metrics = reqwest_get(&format!("http://{}/metrics", gateway.address)).await;
        let found = metrics.lines().any(|line| {
            line.starts_with("certstream_gateway_disconnects_total{")
                && (line.contains("too_slow") || line.contains("write_stalled"))
        });
        if found || tokio::time::Instant::now() > deadline {
            break found;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(disconnected, "stalled client counted as disconnected");
    drop(stalled);
    gateway.stop().await;
}

/// Minimal HTTP/1.1 GET returning the raw response, so the test needs no HTTP client crate.
async fn reqwest_get(url: &str) -> String {
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest
        .split_once('/')
        .map(|(h, p)| (h, format!("/{p}")))
        .unwrap();
    let mut stream = TcpStream::connect(host).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut response))
        .await
        .unwrap()
        .unwrap();
    String::from_utf8_lossy(&response).to_string()
}

/// With a certificate and key configured, WebSocket clients connect over TLS and receive frames.
#[tokio::test]
async fn tls_serves_websocket() {
    use tokio_rustls::rustls::{self, pki_types::ServerName};

    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    std::fs::write(&cert_path, certified.cert.pem()).unwrap();
    std::fs::write(&key_path, certified.key_pair.serialize_pem()).unwrap();
    let gateway = Gateway::start(&[
        "--tls-cert-file",
        cert_path.to_str().unwrap(),
        "--tls-key-file",
        key_path.to_str().unwrap(),
    ])
    .await;

    let mut roots = rustls::RootCertStore::empty();
    roots.add(certified.cert.der().clone()).unwrap();
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
    let tcp = TcpStream::connect(&gateway.address).await.unwrap();
    let tls = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .expect("TLS handshake");
    let url = "wss://localhost/full-stream";
    let (mut socket, _) = tokio_tungstenite::client_async(url, tls)
        .await
        .expect("WebSocket over TLS");
    tokio::time::sleep(Duration::from_millis(50)).await;
    gateway.publish(StreamKind::Full, r#"{"n":"tls"}"#).await;
    let message = tokio::time::timeout(WAIT, socket.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(message, Message::text(r#"{"n":"tls"}"#));
    gateway.stop().await;
}

/// A certificate without its key is a start-up error that names both settings.
#[tokio::test]
async fn tls_needs_both_files() {
    let settings = Settings::try_from_args([
        "test",
        "--host",
        "127.0.0.1",
        "--tls-cert-file",
        "/nonexistent.pem",
    ])
    .unwrap();
    let http = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let listeners = certstream_gateway::Listeners { http, tcp: None };
    let bus = Bus::Memory(MemoryBus::new(4));
    let err = certstream_gateway::run(settings, bus, listeners, CancellationToken::new())
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("CERTSTREAM_TLS_CERT_FILE and CERTSTREAM_TLS_KEY_FILE"),
        "{err}"
    );
}

/// With hot reload, a new token list in the watched file replaces the old one without a restart.
#[tokio::test]
async fn hot_reload_replaces_tokens() {
    use axum::http::{HeaderMap, HeaderValue};
    use certstream_gateway::access::{Access, Rejection};

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("certstream.yaml");
    std::fs::write(&path, "auth_enabled: true\nauth_tokens: [old-token]\n").unwrap();
    let path_text = path.to_str().unwrap().to_string();
    let args = [
        "test",
        "--hot-reload-enabled",
        "--hot-reload-watch-path",
        path_text.as_str(),
    ];
    let settings = Settings::try_from_args(args).unwrap();
    let access = std::sync::Arc::new(Access::from_settings(&settings).unwrap());
    let bearer = |token: &str| {
        let mut headers = HeaderMap::new();
        headers.insert(
            "authorization",
            HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
        );
        headers
    };
    assert_eq!(access.authorize(&bearer("old-token")), Ok(()));

    let shutdown = CancellationToken::new();
    let base_args = args.iter().map(std::ffi::OsString::from).collect();
    let watcher = tokio::spawn(certstream_gateway::reload::watch(
        path.clone(),
        base_args,
        access.clone(),
        shutdown.clone(),
    ));
    tokio::time::sleep(Duration::from_millis(50)).await;
    std::fs::write(&path, "auth_enabled: true\nauth_tokens: [new-token]\n").unwrap();

    let deadline = tokio::time::Instant::now() + WAIT;
    while access.authorize(&bearer("new-token")).is_err() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "new token never accepted"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        access.authorize(&bearer("old-token")),
        Err(Rejection::Unauthorized)
    );

    // An invalid file keeps the rules in force.
    std::fs::write(&path, "auth_enabled: maybe\n").unwrap();
    tokio::time::sleep(certstream_gateway::reload::POLL_INTERVAL * 2).await;
    assert_eq!(access.authorize(&bearer("new-token")), Ok(()));
    shutdown.cancel();
    watcher.await.unwrap();
}
