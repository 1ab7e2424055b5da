//! The HTML page served at `/` to browsers: what this server is, how to connect, live counters
//! from `/stats.json` and the latest domains from the domains-only stream.

/// Renders the page. It needs no external resources, so it works on a closed network.
pub fn index() -> String {
    INDEX_HTML.replace("{version}", env!("CARGO_PKG_VERSION"))
}

const INDEX_HTML: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>certstream</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
code, pre { background: #f3f3f3; padding: 0.1rem 0.3rem; }
#domains { height: 18rem; overflow: hidden; font-family: monospace; font-size: 0.9rem; border: 1px solid #ddd; padding: 0.5rem; }
table { border-collapse: collapse; } td, th { padding: 0.2rem 1rem 0.2rem 0; text-align: left; }
</style>
</head>
<body>
<h1>certstream</h1>
<p>This server streams every certificate newly added to the trusted Certificate Transparency logs,
as JSON, in real time. It is compatible with the certstream clients for Python, Go, JavaScript and Java.</p>
<h2>Connect</h2>
<table>
<tr><th>Stream</th><th>WebSocket</th><th>Server-Sent Events</th></tr>
<tr><td>lite (no DER, no chain)</td><td><code>/</code></td><td><code>/sse?stream=lite</code></td></tr>
<tr><td>full</td><td><code>/full-stream</code></td><td><code>/sse?stream=full</code></td></tr>
<tr><td>domains only</td><td><code>/domains-only</code></td><td><code>/sse?stream=domains</code></td></tr>
</table>
<pre>pip install certstream
python -c "import certstream; certstream.listen_for_events(lambda m, c: print(m['data']['leaf_cert']['all_domains']), url='<span id="url">ws://HOST/</span>')"</pre>
<p>Latest messages: <a href="/example.json">lite</a>, <a href="/full-stream/example.json">full</a>,
<a href="/domains-only/example.json">domains</a>. Metrics: <a href="/metrics">/metrics</a>.</p>
<h2>Live</h2>
<p id="counters">Loading counters...</p>
<div id="domains"></div>
<p><small>certstream {version}</small></p>
<script>
document.getElementById('url').textContent =
  `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/`;
const counters = document.getElementById('counters');
async function refresh() {
  try {
    const stats = await (await fetch('/stats.json')).json();
    counters.textContent = `${stats.connections} clients connected, ` +
      `${stats.messages_received.lite} certificates relayed since start (${stats.uptime_secs} s ago)`;
  } catch (error) { counters.textContent = 'Counters unavailable: ' + error; }
}
refresh(); setInterval(refresh, 2000);
const list = document.getElementById('domains');
function connect() {
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const socket = new WebSocket(`${scheme}://${location.host}/domains-only`);
  socket.onmessage = (event) => {
    const message = JSON.parse(event.data);
    if (message.message_type !== 'dns_entries') return;
    const line = document.createElement('div');
    line.textContent = message.data.join(', ');
    list.prepend(line);
    while (list.childElementCount > 40) list.lastChild.remove();
  };
  socket.onclose = () => setTimeout(connect, 5000);
}
connect();
</script>
</body>
</html>
"#;
