//! End-to-end: a gateway process on a real nats-server survives a NATS restart. Its WebSocket
//! clients stay connected, `/health` reports the outage, and messages flow again once NATS is
//! back.

mod support;

use std::time::{Duration, Instant};

use bytes::Bytes;
use certstream_shared::{Bus, Settings, StreamKind};
use futures::StreamExt;
use support::{NatsServer, Service};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

const WAIT: Duration = Duration::from_secs(20);

/// Starts a gateway process on `nats_url` with a free port and no heartbeats.
fn spawn_gateway(name: &str, nats_url: &str) -> Service {
    let args = [
        "--nats-url",
        nats_url,
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--heartbeat-interval-secs",
        "0",
    ];
    Service::spawn(name, &support::binary("certstream-gateway"), &args, &[])
}

/// Returns the HTTP status code of `GET path`.
async fn status(address: &str, path: &str) -> u16 {
    let mut stream = TcpStream::connect(address).await.expect("gateway accepts");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut response))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&response);
    text.split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .expect("status code")
}

async fn wait_for_status(address: &str, path: &str, expected: u16) {
    let deadline = Instant::now() + WAIT;
    loop {
        let code = status(address, path).await;
        if code == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{path} stayed at {code}, expected {expected}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Publishes `text` on `kind` until `socket` receives it (the publisher may still be
/// reconnecting, and a gateway may still be subscribing). Other frames are skipped.
async fn publish_until_received(
    publisher: &Bus,
    socket: &mut tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>,
    kind: StreamKind,
    text: &str,
) {
    let deadline = Instant::now() + WAIT;
    loop {
        if publisher.is_connected() {
            let frame = Bytes::from(text.to_string());
            let _ = publisher.publish_frame(kind, "test_log", frame).await;
            let _ = publisher.flush().await;
        }
        match tokio::time::timeout(Duration::from_millis(300), socket.next()).await {
            Ok(Some(Ok(Message::Text(received)))) if received.as_str() == text => return,
            Ok(Some(Ok(_))) | Err(_) => {}
            Ok(other) => panic!("WebSocket ended while waiting for {text:?}: {other:?}"),
        }
        assert!(Instant::now() < deadline, "{text:?} never arrived");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_survives_nats_restart() {
    let mut nats = NatsServer::start();
    let mut gateway = spawn_gateway("gateway", &nats.url);
    let address = gateway.listening_address();
    wait_for_status(&address, "/health", 200).await;

    let (mut socket, _) = tokio_tungstenite::connect_async(format!("ws://{address}/"))
        .await
        .expect("client connects");
    let settings = Settings::try_from_args(["publisher", "--nats-url", nats.url.as_str()]).unwrap();
    let publisher = Bus::from_settings(&settings)
        .await
        .expect("publisher connects");
    publish_until_received(
        &publisher,
        &mut socket,
        StreamKind::Lite,
        r#"{"n":"before"}"#,
    )
    .await;

    nats.kill();
    wait_for_status(&address, "/health", 503).await;
    nats.start_again();
    wait_for_status(&address, "/health", 200).await;

    publish_until_received(
        &publisher,
        &mut socket,
        StreamKind::Lite,
        r#"{"n":"after"}"#,
    )
    .await;
    assert!(
        gateway.is_running(),
        "gateway kept running through the restart"
    );
    assert!(
        gateway.terminate(Duration::from_secs(15)),
        "gateway stops on SIGTERM"
    );
}

/// Two gateways on one NATS server deliver the same messages in the same order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_gateways_deliver_identical_streams() {
    let nats = NatsServer::start();
    let mut first = spawn_gateway("gateway 1", &nats.url);
    let mut second = spawn_gateway("gateway 2", &nats.url);
    let mut sockets = Vec::new();
    for gateway in [&mut first, &mut second] {
        let address = gateway.listening_address();
        wait_for_status(&address, "/health", 200).await;
        let (socket, _) = tokio_tungstenite::connect_async(format!("ws://{address}/full-stream"))
            .await
            .expect("client connects");
        sockets.push(socket);
    }
    let settings = Settings::try_from_args(["publisher", "--nats-url", nats.url.as_str()]).unwrap();
    let publisher = Bus::from_settings(&settings)
        .await
        .expect("publisher connects");
    // Both gateways subscribe during start-up; wait until a probe frame reaches both clients.
    for socket in &mut sockets {
        publish_until_received(&publisher, socket, StreamKind::Full, r#"{"probe":1}"#).await;
    }

    let sent: Vec<String> = (0..200).map(|n| format!(r#"{{"n":{n}}}"#)).collect();
    for (n, text) in sent.iter().enumerate() {
        let log = if n % 2 == 0 { "log_a" } else { "log_b" };
        publisher
            .publish_frame(StreamKind::Full, log, Bytes::from(text.clone()))
            .await
            .unwrap();
    }
    publisher.flush().await.unwrap();
    for (position, socket) in sockets.iter_mut().enumerate() {
        let mut received = Vec::new();
        while received.len() < sent.len() {
            match tokio::time::timeout(WAIT, socket.next())
                .await
                .expect("message in time")
            {
                Some(Ok(Message::Text(text))) if !text.contains("probe") => {
                    received.push(text.to_string())
                }
                Some(Ok(_)) => {}
                other => panic!("gateway {position}: stream ended: {other:?}"),
            }
        }
        assert_eq!(
            received, sent,
            "gateway {position} delivered the published sequence"
        );
    }
}
