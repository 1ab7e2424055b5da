//! Connection churn: 500 WebSocket connects per second for a minute, each closed right after
//! its first message. Afterwards no connection, task or client gauge is left over and the
//! process's resident memory has not grown without bound.

use std::time::Duration;

use bytes::Bytes;
use certstream_shared::bus::MemoryBus;
use certstream_shared::{Bus, Settings, StreamKind};
use futures::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

/// Connections opened per second.
const CONNECTS_PER_SEC: u64 = 500;

/// Length of the churn phase.
const CHURN: Duration = Duration::from_secs(60);

/// Resident memory the process may gain over the whole run.
const MAX_RSS_GROWTH_KB: u64 = 64 * 1024;

fn resident_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS line")
}

async fn connect_and_close(address: String) -> bool {
    let Ok(Ok((mut socket, _))) = tokio::time::timeout(
        Duration::from_secs(10),
        tokio_tungstenite::connect_async(format!("ws://{address}/")),
    )
    .await
    else {
        return false;
    };
    let got_message = matches!(
        tokio::time::timeout(Duration::from_secs(10), socket.next()).await,
        Ok(Some(Ok(Message::Text(_))))
    );
    let _ = socket.send(Message::Close(None)).await;
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while socket.next().await.is_some() {}
    })
    .await;
    got_message
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn churn_leaves_nothing_behind() {
    let settings = Settings::try_from_args([
        "test",
        "--host",
        "127.0.0.1",
        "--heartbeat-interval-secs",
        "0",
    ])
    .unwrap();
    let bus = Bus::Memory(MemoryBus::new(64));
    let http = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = http.local_addr().unwrap().to_string();
    let shutdown = CancellationToken::new();
    let listeners = certstream_gateway::Listeners { http, tcp: None };
    let server = tokio::spawn(certstream_gateway::run(
        settings,
        bus.clone(),
        listeners,
        shutdown.clone(),
    ));
    tokio::time::sleep(Duration::from_millis(100)).await;

    // A steady trickle of messages, so every client receives one soon after it connects.
    let publisher = {
        let bus = bus.clone();
        let stop = shutdown.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(5));
            while !stop.is_cancelled() {
                tick.tick().await;
                let _ = bus
                    .publish_frame(StreamKind::Lite, "churn", Bytes::from_static(br#"{"n":1}"#))
                    .await;
            }
        })
    };

    let warm_up: Vec<_> = (0..200)
        .map(|_| tokio::spawn(connect_and_close(address.clone())))
        .collect();
    for task in warm_up {
        task.await.unwrap();
    }
    let rss_before = resident_kb();

    let mut clients = tokio::task::JoinSet::new();
    let mut pace = tokio::time::interval(Duration::from_micros(1_000_000 / CONNECTS_PER_SEC));
    let started = tokio::time::Instant::now();
    let mut opened = 0u64;
    let mut served = 0u64;
    while started.elapsed() < CHURN {
        pace.tick().await;
        clients.spawn(connect_and_close(address.clone()));
        opened += 1;
        while let Some(done) = clients.try_join_next() {
            served += u64::from(done.unwrap());
        }
    }
    while let Some(done) = clients.join_next().await {
        served += u64::from(done.unwrap());
    }
    let expected = CONNECTS_PER_SEC * CHURN.as_secs();
    assert!(
        opened >= expected * 9 / 10,
        "opened {opened} connections, expected about {expected}"
    );

    // A server task may still be finishing a connection the client already saw closed.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let open_clients = loop {
        let open = open_client_gauge();
        if open == 0.0 || tokio::time::Instant::now() > deadline {
            break open;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let rss_after = resident_kb();
    shutdown.cancel();
    publisher.await.unwrap();
    server.await.unwrap().unwrap();

    assert_eq!(
        served, opened,
        "every connection received a message before closing"
    );
    assert_eq!(open_clients, 0.0, "client gauges back to zero after churn");
    assert!(
        rss_after < rss_before + MAX_RSS_GROWTH_KB,
        "resident memory grew from {rss_before} kB to {rss_after} kB over {opened} connections"
    );
}

/// Sum of the connected-client gauges of every transport and stream.
fn open_client_gauge() -> f64 {
    certstream_shared::telemetry::render_metrics()
        .lines()
        .filter(|line| line.starts_with("certstream_gateway_clients{"))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}
