//! One load generator client per task: connects over WebSocket, Server-Sent Events or raw TCP,
//! reads messages until the run stops and records each one in the shared [`Recorder`].

use std::time::Duration;

use futures::StreamExt;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use super::recorder::{ClientCounts, Recorder};
use super::{StreamKind, Transport};

/// How long a client waits for its connection (and for the HTTP response of SSE).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a WebSocket client waits for its close handshake when the run stops.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// How one client's connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientEnd {
    /// The run stopped while the client was connected.
    Stopped,
    /// The connection was never established.
    ConnectFailed(String),
    /// The server or the network ended the connection before the run stopped.
    Disconnected(String),
}

/// What one client saw.
#[derive(Debug, Clone)]
pub struct ClientOutcome {
    pub counts: ClientCounts,
    pub end: ClientEnd,
}

/// Where and how a client connects.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub transport: Transport,
    pub stream: StreamKind,
    /// `ws://…` or `http://…` URL, or `host:port` for TCP.
    pub address: String,
}

impl Endpoint {
    /// Builds the endpoint of `stream` on a server at `target` (`host:port`).
    pub fn new(transport: Transport, stream: StreamKind, target: &str) -> Endpoint {
        let address = match transport {
            Transport::Ws => format!("ws://{target}{}", stream.ws_path()),
            Transport::Sse => format!("http://{target}/sse?stream={}", stream.as_str()),
            Transport::Tcp => target.to_string(),
        };
        Endpoint {
            transport,
            stream,
            address,
        }
    }
}

/// Runs one client until `stop` is cancelled or its connection ends.
pub async fn run_client(
    endpoint: &Endpoint,
    http: &reqwest::Client,
    recorder: &Recorder,
    stop: &CancellationToken,
) -> ClientOutcome {
    let mut counts = ClientCounts::default();
    let end = match endpoint.transport {
        Transport::Ws => run_websocket(&endpoint.address, recorder, stop, &mut counts).await,
        Transport::Sse => run_sse(&endpoint.address, http, recorder, stop, &mut counts).await,
        Transport::Tcp => {
            run_tcp(
                &endpoint.address,
                endpoint.stream,
                recorder,
                stop,
                &mut counts,
            )
            .await
        }
    };
    if let ClientEnd::ConnectFailed(reason) = &end {
        recorder.client_connect_failed();
        recorder.record_error(reason);
    }
    if !matches!(end, ClientEnd::Stopped) {
        recorder.client_ended(&counts);
    }
    ClientOutcome { counts, end }
}

async fn run_websocket(
    url: &str,
    recorder: &Recorder,
    stop: &CancellationToken,
    counts: &mut ClientCounts,
) -> ClientEnd {
    let connect = tokio::time::timeout(CONNECT_TIMEOUT, tokio_tungstenite::connect_async(url));
    let mut socket = match connect.await {
        Err(_) => return ClientEnd::ConnectFailed("connect timed out".into()),
        Ok(Err(err)) => {
            return ClientEnd::ConnectFailed(format!("WebSocket connect failed: {err}"))
        }
        Ok(Ok((socket, _))) => socket,
    };
    recorder.client_connected();

    loop {
        let frame = tokio::select! {
            biased;
            _ = stop.cancelled() => {
                let _ = tokio::time::timeout(CLOSE_TIMEOUT, socket.close(None)).await;
                return ClientEnd::Stopped;
            }
            frame = socket.next() => frame,
        };
        match frame {
            // tungstenite queues the Pong reply to a Ping itself and sends it on the next read.
            Some(Ok(Message::Text(text))) => recorder.record_text(text.as_str(), counts),
            Some(Ok(Message::Binary(_))) => recorder.record_error("Binary frame received"),
            Some(Ok(Message::Close(frame))) => {
                let code = frame.map_or("none".to_string(), |frame| {
                    u16::from(frame.code).to_string()
                });
                return ClientEnd::Disconnected(format!("server sent Close (code {code})"));
            }
            Some(Ok(_)) => {}
            Some(Err(err)) => return ClientEnd::Disconnected(format!("WebSocket error: {err}")),
            None => return ClientEnd::Disconnected("connection closed without Close frame".into()),
        }
    }
}

// NOTE: the gateway has no SSE endpoint yet, so this client has only been checked against the
// event stream format, not against a server.
async fn run_sse(
    url: &str,
    http: &reqwest::Client,
    recorder: &Recorder,
    stop: &CancellationToken,
    counts: &mut ClientCounts,
) -> ClientEnd {
    let request = http.get(url).header("Accept", "text/event-stream").send();
    let mut response = match tokio::time::timeout(CONNECT_TIMEOUT, request).await {
        Err(_) => return ClientEnd::ConnectFailed("SSE request timed out".into()),
        Ok(Err(err)) => return ClientEnd::ConnectFailed(format!("SSE request failed: {err}")),
        Ok(Ok(response)) if !response.status().is_success() => {
            return ClientEnd::ConnectFailed(format!("SSE request returned {}", response.status()));
        }
        Ok(Ok(response)) => response,
    };
    recorder.client_connected();

    let mut parser = SseParser::default();
    loop {
        let chunk = tokio::select! {
            biased;
            _ = stop.cancelled() => return ClientEnd::Stopped,
            chunk = response.chunk() => chunk,
        };
        match chunk {
            Ok(Some(bytes)) => parser.feed(&bytes, |event| match event {
                SseEvent::Data(data) => match std::str::from_utf8(data) {
                    Ok(text) => recorder.record_text(text, counts),
                    Err(_) => recorder.record_error("SSE data is not UTF-8"),
                },
                SseEvent::Heartbeat => recorder.record_heartbeat(counts),
            }),
            Ok(None) => return ClientEnd::Disconnected("SSE response ended".into()),
            Err(err) => return ClientEnd::Disconnected(format!("SSE read failed: {err}")),
        }
    }
}

/// One dispatched Server-Sent Events item.
#[derive(Debug, PartialEq, Eq)]
enum SseEvent<'a> {
    /// The joined `data:` lines of one event.
    Data(&'a [u8]),
    /// A `: heartbeat` comment line.
    Heartbeat,
}

/// Splits an event stream into events. Keeps the unfinished line and event between chunks.
#[derive(Debug, Default)]
struct SseParser {
    line: Vec<u8>,
    data: Vec<u8>,
}

impl SseParser {
    fn feed(&mut self, bytes: &[u8], mut on_event: impl FnMut(SseEvent<'_>)) {
        for &byte in bytes {
            if byte != b'\n' {
                self.line.push(byte);
                continue;
            }
            if self.line.last() == Some(&b'\r') {
                self.line.pop();
            }
            if self.line.is_empty() {
                if !self.data.is_empty() {
                    on_event(SseEvent::Data(&self.data));
                    self.data.clear();
                }
            } else if let Some(comment) = self.line.strip_prefix(b":") {
                if comment.trim_ascii() == b"heartbeat" {
                    on_event(SseEvent::Heartbeat);
                }
            } else if let Some(value) = self.line.strip_prefix(b"data:") {
                let value = value.strip_prefix(b" ").unwrap_or(value);
                if !self.data.is_empty() {
                    self.data.push(b'\n');
                }
                self.data.extend_from_slice(value);
            }
            self.line.clear();
        }
    }
}

// NOTE: the gateway has no TCP endpoint yet, so this client has not been run against a server.
async fn run_tcp(
    address: &str,
    stream: StreamKind,
    recorder: &Recorder,
    stop: &CancellationToken,
    counts: &mut ClientCounts,
) -> ClientEnd {
    let mut socket = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(address)).await
    {
        Err(_) => return ClientEnd::ConnectFailed("TCP connect timed out".into()),
        Ok(Err(err)) => return ClientEnd::ConnectFailed(format!("TCP connect failed: {err}")),
        Ok(Ok(socket)) => socket,
    };
    // The server picks lite when the first byte is neither `f` nor `d` or does not arrive in 1 s.
    if let Some(selector) = stream.tcp_selector() {
        if let Err(err) = socket.write_all(&[selector]).await {
            return ClientEnd::ConnectFailed(format!("sending the stream selector failed: {err}"));
        }
    }
    recorder.client_connected();

    let mut reader = BufReader::new(socket);
    let mut line = String::new();
    loop {
        line.clear();
        let read = tokio::select! {
            biased;
            _ = stop.cancelled() => return ClientEnd::Stopped,
            read = reader.read_line(&mut line) => read,
        };
        match read {
            Ok(0) => return ClientEnd::Disconnected("TCP connection closed".into()),
            Ok(_) => {
                let text = line.trim_end();
                if !text.is_empty() {
                    recorder.record_text(text, counts);
                }
            }
            Err(err) => return ClientEnd::Disconnected(format!("TCP read failed: {err}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(chunks: &[&str]) -> Vec<String> {
        let mut parser = SseParser::default();
        let mut events = Vec::new();
        for chunk in chunks {
            parser.feed(chunk.as_bytes(), |event| {
                events.push(match event {
                    SseEvent::Data(data) => String::from_utf8(data.to_vec()).unwrap(),
                    SseEvent::Heartbeat => "<heartbeat>".to_string(),
                })
            });
        }
        events
    }

    #[test]
    fn sse_events_split_across_chunks() {
        let events = parse(&["data: {\"a\":", "1}\n\ndata: {\"b\":2}\r\n", "\r\n"]);

        assert_eq!(events, ["{\"a\":1}", "{\"b\":2}"]);
    }

    #[test]
    fn sse_comments_and_other_fields() {
        let events = parse(&[
            ": heartbeat\n",
            "event: update\nid: 4\ndata: x\n\n",
            ": other\n\n",
        ]);

        assert_eq!(events, ["<heartbeat>", "x"]);
    }

    #[test]
    fn sse_multi_line_data_is_joined() {
        let events = parse(&["data: a\ndata:b\n\n"]);

        assert_eq!(events, ["a\nb"]);
    }

    #[test]
    fn endpoints_per_transport() {
        let ws = Endpoint::new(Transport::Ws, StreamKind::Full, "127.0.0.1:8080");
        assert_eq!(ws.address, "ws://127.0.0.1:8080/full-stream");

        let sse = Endpoint::new(Transport::Sse, StreamKind::Lite, "127.0.0.1:8080");
        assert_eq!(sse.address, "http://127.0.0.1:8080/sse?stream=lite");

        let tcp = Endpoint::new(Transport::Tcp, StreamKind::Domains, "127.0.0.1:8081");
        assert_eq!(tcp.address, "127.0.0.1:8081");
    }
}
