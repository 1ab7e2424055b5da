//! Settings of all three services, read from flags, `CERTSTREAM_*` environment variables and an
//! optional YAML file, in that order of precedence, with the defaults below.
//!
//! Every setting is declared once in the `settings!` table: that one entry makes the flag, the
//! environment variable, the YAML key (the field name), the default and the help text. Values are
//! parsed here, not by clap, so an error names where the bad value came from
//! (`CERTSTREAM_PORT`, `--port` or the file key), and all errors are reported together.

use std::fmt;
use std::net::IpAddr;
use std::num::{NonZeroU32, NonZeroU64, NonZeroUsize};
use std::path::{Path, PathBuf};

use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser};

/// Environment variable naming the YAML configuration file.
pub const CONFIG_FILE_ENV: &str = "CERTSTREAM_CONFIG_FILE";

/// One setting as declared in the table: used for help, docs and manifest checks.
#[derive(Debug, Clone, Copy)]
pub struct SettingInfo {
    pub key: &'static str,
    pub env: &'static str,
    pub flag: &'static str,
    pub default: &'static str,
}

/// A value that a setting can hold, parsed from its text form.
pub trait SettingValue: Sized {
    fn parse_setting(text: &str) -> Result<Self, String>;
}

macro_rules! settings {
    ($(
        $(#[doc = $doc:literal])*
        $field:ident: $ty:ty = $default:literal, env = $env:literal, flag = $flag:literal;
    )*) => {
        /// The resolved settings of a service.
        #[derive(Debug, Clone)]
        pub struct Settings {
            $( $(#[doc = $doc])* pub $field: $ty, )*
        }

        /// Command line: every setting as an optional flag that also reads its environment variable.
        #[derive(Debug, Parser)]
        struct Cli {
            /// YAML file with settings (keys are the setting names in snake_case, for example `port`).
            #[arg(long = "config", env = CONFIG_FILE_ENV, value_name = "PATH")]
            config: Option<PathBuf>,
            $(
                $(#[doc = $doc])*
                #[arg(
                    long = $flag,
                    env = $env,
                    value_name = "VALUE",
                    num_args = 0..=1,
                    default_missing_value = "true",
                    hide_env_values = true
                )]
                $field: Option<String>,
            )*
        }

        /// Every setting, in declaration order.
        pub const SETTINGS: &[SettingInfo] = &[
            $( SettingInfo { key: stringify!($field), env: $env, flag: $flag, default: $default }, )*
        ];

        impl Settings {
            fn resolve(sources: &Sources) -> Result<Self, ConfigError> {
                let mut problems = Vec::new();
                $(
                    let $field = sources.value::<$ty>(stringify!($field), $env, $flag, $default, &mut problems);
                )*
                if !problems.is_empty() {
                    return Err(ConfigError::Invalid(problems));
                }
                Ok(Settings { $( $field: $field.expect("a missing value is recorded as a problem"), )* })
            }
        }
    };
}

settings! {
    /// Log level: error, warn, info, debug or trace.
    log_level: LogLevel = "info", env = "CERTSTREAM_LOG_LEVEL", flag = "log-level";
    /// NATS server URL, for example nats://127.0.0.1:4222. Empty runs without NATS (standalone only).
    nats_url: Option<String> = "", env = "CERTSTREAM_NATS_URL", flag = "nats-url";
    /// Run ingest, decoder and gateway in one process over an in-process bus (no NATS).
    standalone: bool = "false", env = "CERTSTREAM_STANDALONE", flag = "standalone";
    /// First token of every NATS subject, so several deployments can share one NATS cluster.
    nats_subject_prefix: String = "certstream", env = "CERTSTREAM_NATS_SUBJECT_PREFIX", flag = "nats-subject-prefix";
    /// JetStream stream that stores raw CT entries between ingest and the decoders.
    nats_raw_stream: String = "CERTSTREAM_RAW", env = "CERTSTREAM_NATS_RAW_STREAM", flag = "nats-raw-stream";
    /// Maximum size of the raw stream in bytes; when full, ingest waits for the decoders.
    nats_raw_max_bytes: NonZeroU64 = "1073741824", env = "CERTSTREAM_NATS_RAW_MAX_BYTES", flag = "nats-raw-max-bytes";
    /// Durable JetStream consumer shared by all decoder replicas.
    nats_decoder_consumer: String = "certstream-decoder", env = "CERTSTREAM_NATS_DECODER_CONSUMER", flag = "nats-decoder-consumer";
    /// Deliveries of one raw message before it goes to the dead-letter subject.
    nats_decoder_max_deliver: NonZeroU32 = "5", env = "CERTSTREAM_NATS_DECODER_MAX_DELIVER", flag = "nats-decoder-max-deliver";
    /// Seconds JetStream waits for a decoder to acknowledge a raw message before it delivers the
    /// message again, to this or another decoder (also the delay after a decoder crash).
    nats_decoder_ack_wait_secs: NonZeroU64 = "30", env = "CERTSTREAM_NATS_DECODER_ACK_WAIT_SECS", flag = "nats-decoder-ack-wait-secs";
    /// JetStream stream that stores raw messages the decoders could not read, for replay.
    nats_dead_letter_stream: String = "CERTSTREAM_DEADLETTER", env = "CERTSTREAM_NATS_DEAD_LETTER_STREAM", flag = "nats-dead-letter-stream";

    /// Address the gateway binds (IPv4 or IPv6, for example `::`).
    host: IpAddr = "0.0.0.0", env = "CERTSTREAM_HOST", flag = "host";
    /// HTTP, WebSocket and SSE port (0 picks a free port).
    port: u16 = "8080", env = "CERTSTREAM_PORT", flag = "port";
    /// Messages buffered per stream for fan-out; a client further behind loses messages.
    buffer_size: NonZeroUsize = "1000", env = "CERTSTREAM_BUFFER_SIZE", flag = "buffer-size";
    /// Serve the WebSocket endpoints.
    ws_enabled: bool = "true", env = "CERTSTREAM_WS_ENABLED", flag = "ws-enabled";
    /// Serve the /sse endpoint.
    sse_enabled: bool = "false", env = "CERTSTREAM_SSE_ENABLED", flag = "sse-enabled";
    /// Serve newline-delimited JSON on a raw TCP port.
    tcp_enabled: bool = "false", env = "CERTSTREAM_TCP_ENABLED", flag = "tcp-enabled";
    /// Raw TCP port.
    tcp_port: u16 = "8081", env = "CERTSTREAM_TCP_PORT", flag = "tcp-port";
    /// Serve /metrics in the Prometheus text format.
    metrics_enabled: bool = "true", env = "CERTSTREAM_METRICS_ENABLED", flag = "metrics-enabled";
    /// Port of /metrics and /health on ingest and decoder processes (the gateway serves both on its
    /// main port).
    metrics_port: u16 = "8082", env = "CERTSTREAM_METRICS_PORT", flag = "metrics-port";
    /// Serve /health.
    health_enabled: bool = "true", env = "CERTSTREAM_HEALTH_ENABLED", flag = "health-enabled";
    /// Serve /example.json with the latest message of each stream.
    example_json_enabled: bool = "true", env = "CERTSTREAM_EXAMPLE_JSON_ENABLED", flag = "example-json-enabled";
    /// Enforce the total and per-IP connection limits.
    connection_limit_enabled: bool = "false", env = "CERTSTREAM_CONNECTION_LIMIT_ENABLED", flag = "connection-limit-enabled";
    /// Maximum client connections in total.
    connection_limit_max_connections: NonZeroUsize = "10000", env = "CERTSTREAM_CONNECTION_LIMIT_MAX_CONNECTIONS", flag = "connection-limit-max-connections";
    /// Maximum client connections per client IP.
    connection_limit_per_ip_limit: NonZeroUsize = "100", env = "CERTSTREAM_CONNECTION_LIMIT_PER_IP_LIMIT", flag = "connection-limit-per-ip-limit";
    /// Require a bearer token on the stream endpoints.
    auth_enabled: bool = "false", env = "CERTSTREAM_AUTH_ENABLED", flag = "auth-enabled";
    /// Accepted tokens, comma-separated.
    auth_tokens: Secret<Vec<String>> = "", env = "CERTSTREAM_AUTH_TOKENS", flag = "auth-tokens";
    /// Header that carries `Bearer <token>`.
    auth_header_name: String = "Authorization", env = "CERTSTREAM_AUTH_HEADER_NAME", flag = "auth-header-name";
    /// Proxies whose X-Forwarded-For header names the client IP: comma-separated IPs or CIDR
    /// ranges. Requests from other addresses are attributed to their own peer address.
    trusted_proxies: Vec<String> = "", env = "CERTSTREAM_TRUSTED_PROXIES", flag = "trusted-proxies";
    /// PEM certificate chain for TLS on the HTTP port; set together with the key file.
    tls_cert_file: Option<PathBuf> = "", env = "CERTSTREAM_TLS_CERT_FILE", flag = "tls-cert-file";
    /// PEM private key for TLS on the HTTP port.
    tls_key_file: Option<PathBuf> = "", env = "CERTSTREAM_TLS_KEY_FILE", flag = "tls-key-file";
    /// Seconds between heartbeat messages on WebSocket and TCP (0 disables them).
    heartbeat_interval_secs: u64 = "30", env = "CERTSTREAM_HEARTBEAT_INTERVAL_SECS", flag = "heartbeat-interval-secs";
    /// Seconds between WebSocket pings.
    ws_ping_interval_secs: NonZeroU64 = "30", env = "CERTSTREAM_WS_PING_INTERVAL_SECS", flag = "ws-ping-interval-secs";
    /// Seconds without any inbound frame after which a WebSocket client is disconnected.
    ws_idle_timeout_secs: NonZeroU64 = "90", env = "CERTSTREAM_WS_IDLE_TIMEOUT_SECS", flag = "ws-idle-timeout-secs";
    /// Seconds one write to a client may take before the client counts as stalled and is disconnected.
    client_write_timeout_secs: NonZeroU64 = "10", env = "CERTSTREAM_CLIENT_WRITE_TIMEOUT_SECS", flag = "client-write-timeout-secs";
    /// Times a client may fall more than `buffer_size` messages behind within one minute before it
    /// is disconnected as too slow.
    client_max_lag_events: NonZeroU32 = "5", env = "CERTSTREAM_CLIENT_MAX_LAG_EVENTS", flag = "client-max-lag-events";

    /// CT log list in Google's v3 format: a file path or an http(s) URL. Empty uses the bundled list.
    log_list: Option<String> = "", env = "CERTSTREAM_LOG_LIST", flag = "log-list";
    /// Second CT log list, such as Apple's v5 list: a file path or an http(s) URL. Its logs are added to those of `log_list` unless their log_id is already there. Empty adds none.
    log_list_extra: Option<String> = "", env = "CERTSTREAM_LOG_LIST_EXTRA", flag = "log-list-extra";
    /// RSA public key file (PEM or DER SubjectPublicKeyInfo) that the signature next to `log_list` (`.sig` in place of `.json`) must verify with. Empty checks the bundled list and its refreshes from Google with Google's key, and other lists not at all.
    log_list_public_key: Option<PathBuf> = "", env = "CERTSTREAM_LOG_LIST_PUBLIC_KEY", flag = "log-list-public-key";
    /// File where per-log cursors persist when running without NATS.
    ct_log_state_file: Option<PathBuf> = "", env = "CERTSTREAM_CT_LOG_STATE_FILE", flag = "ct-log-state-file";
    /// Attempts of one log request before the watcher backs off.
    ct_log_retry_max_attempts: NonZeroU32 = "3", env = "CERTSTREAM_CT_LOG_RETRY_MAX_ATTEMPTS", flag = "ct-log-retry-max-attempts";
    /// Timeout of one log request, in seconds.
    ct_log_request_timeout_secs: NonZeroU64 = "30", env = "CERTSTREAM_CT_LOG_REQUEST_TIMEOUT_SECS", flag = "ct-log-request-timeout-secs";
    /// Entries requested per get-entries call.
    ct_log_batch_size: NonZeroU64 = "256", env = "CERTSTREAM_CT_LOG_BATCH_SIZE", flag = "ct-log-batch-size";
    /// Pause between two tree head polls of one log once it is caught up, in milliseconds.
    ct_log_poll_interval_ms: NonZeroU64 = "1000", env = "CERTSTREAM_CT_LOG_POLL_INTERVAL_MS", flag = "ct-log-poll-interval-ms";
    /// Entries before the head at which a log without a saved cursor starts (0 starts at the head).
    ct_log_backfill_entries: u64 = "256", env = "CERTSTREAM_CT_LOG_BACKFILL_ENTRIES", flag = "ct-log-backfill-entries";
    /// Requests per second to the logs of one operator (all of Google's logs together, for example), with bursts of up to one second's worth.
    ct_log_operator_requests_per_sec: NonZeroU32 = "20", env = "CERTSTREAM_CT_LOG_OPERATOR_REQUESTS_PER_SEC", flag = "ct-log-operator-requests-per-sec";
    /// Entry fetches (get-entries pages or data tiles) in flight at once across all logs, which bounds the load of catching up after downtime.
    ct_log_max_concurrent_fetches: NonZeroU32 = "16", env = "CERTSTREAM_CT_LOG_MAX_CONCURRENT_FETCHES", flag = "ct-log-max-concurrent-fetches";
    /// Id this ingest replica stores in its log leases on NATS. Empty generates a unique id. A fixed id (such as a StatefulSet pod name) lets a restarted replica take its leases back at once, and must not be shared by two running replicas.
    ingest_replica_id: Option<String> = "", env = "CERTSTREAM_INGEST_REPLICA_ID", flag = "ingest-replica-id";

    /// Re-read the configuration file when it changes; the gateway then applies new auth tokens, connection limits and trusted proxies without a restart.
    hot_reload_enabled: bool = "false", env = "CERTSTREAM_HOT_RELOAD_ENABLED", flag = "hot-reload-enabled";
    /// Configuration file (YAML) to watch when hot reload is enabled; it is read as `--config`.
    hot_reload_watch_path: Option<PathBuf> = "", env = "CERTSTREAM_HOT_RELOAD_WATCH_PATH", flag = "hot-reload-watch-path";
}

impl Settings {
    /// Parses the process arguments, environment and configuration file. Prints help or version
    /// and exits when asked for them, as clap does.
    pub fn load(binary: &'static str, about: &'static str) -> Result<Self, ConfigError> {
        let mut command = Cli::command()
            .args_override_self(true)
            .name(binary)
            .about(about)
            .version(env!("CARGO_PKG_VERSION"));
        // Group the flat settings table by the stage that reads them, and show each default.
        for setting in SETTINGS {
            command = command.mut_arg(setting.key, |arg| {
                let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
                let help = match setting.default {
                    "" => help,
                    default => format!("{help} [default: {default}]"),
                };
                arg.help(help).help_heading(help_heading(setting.key))
            });
        }
        let matches = command.get_matches();
        Self::from_matches(&matches)
    }

    /// Parses settings from explicit arguments (the first is the program name) and the process
    /// environment.
    pub fn try_from_args<I, T>(args: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let matches = Cli::command()
            .args_override_self(true)
            .try_get_matches_from(args)
            .map_err(|err| ConfigError::Usage(err.to_string()))?;
        Self::from_matches(&matches)
    }

    fn from_matches(matches: &ArgMatches) -> Result<Self, ConfigError> {
        let cli =
            Cli::from_arg_matches(matches).map_err(|err| ConfigError::Usage(err.to_string()))?;
        let file = match &cli.config {
            Some(path) => FileValues::read(path)?,
            None => FileValues::default(),
        };
        let settings = Settings::resolve(&Sources {
            matches,
            file: &file,
        })?;
        // The watched file of hot reload is the configuration file when none is given.
        if cli.config.is_none() && settings.hot_reload_enabled {
            if let Some(path) = &settings.hot_reload_watch_path {
                let file = FileValues::read(path)?;
                return Settings::resolve(&Sources {
                    matches,
                    file: &file,
                });
            }
        }
        Ok(settings)
    }

    /// Returns whether this process talks to NATS (as opposed to the in-process bus).
    pub fn uses_nats(&self) -> bool {
        self.nats_url.is_some()
    }
}

/// Returns the `--help` section of a setting, by the stage that reads it.
fn help_heading(key: &str) -> &'static str {
    const INGEST: [&str; 3] = ["ct_log_", "log_list", "ingest_"];
    if INGEST.iter().any(|prefix| key.starts_with(prefix)) {
        "Ingest"
    } else if key.starts_with("nats_") {
        "NATS"
    } else if ["log_level", "standalone", "metrics_port"].contains(&key)
        || key.starts_with("hot_reload")
    {
        "General"
    } else {
        "Gateway"
    }
}

/// Origins of setting values (flags, environment, file), for error messages.
struct Sources<'a> {
    matches: &'a ArgMatches,
    file: &'a FileValues,
}

impl Sources<'_> {
    fn value<T: SettingValue>(
        &self,
        key: &str,
        env: &str,
        flag: &str,
        default: &str,
        problems: &mut Vec<String>,
    ) -> Option<T> {
        let (origin, text) = match (
            self.matches.value_source(key),
            self.matches.get_one::<String>(key),
        ) {
            (Some(ValueSource::CommandLine), Some(text)) => (format!("--{flag}"), text.clone()),
            (Some(ValueSource::EnvVariable), Some(text)) => (env.to_string(), text.clone()),
            _ => match self.file.get(key) {
                Some(text) => (format!("`{key}` in {}", self.file.origin), text),
                None => ("the default".to_string(), default.to_string()),
            },
        };
        match T::parse_setting(&text) {
            Ok(value) => Some(value),
            Err(reason) => {
                let shown = if key.contains("token") {
                    "<redacted>".to_string()
                } else {
                    format!("{text:?}")
                };
                problems.push(format!("invalid value {shown} for {origin}: {reason}"));
                None
            }
        }
    }
}

/// Scalar values of the YAML configuration file, as text.
#[derive(Default)]
struct FileValues {
    origin: String,
    values: std::collections::BTreeMap<String, String>,
}

impl FileValues {
    fn read(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|err| ConfigError::File(format!("cannot read {}: {err}", path.display())))?;
        let origin = path.display().to_string();
        let document: serde_norway::Value = serde_norway::from_str(&text)
            .map_err(|err| ConfigError::File(format!("invalid YAML in {origin}: {err}")))?;
        let mapping = match document {
            serde_norway::Value::Mapping(mapping) => mapping,
            serde_norway::Value::Null => Default::default(),
            _ => {
                return Err(ConfigError::File(format!(
                    "{origin}: expected a mapping of setting names to values"
                )))
            }
        };
        let mut values = std::collections::BTreeMap::new();
        let mut problems = Vec::new();
        for (key, value) in mapping {
            let Some(key) = key.as_str().map(str::to_string) else {
                problems.push(format!(
                    "{origin}: setting names must be strings, found {key:?}"
                ));
                continue;
            };
            if !SETTINGS.iter().any(|setting| setting.key == key) {
                problems.push(format!("unknown setting `{key}` in {origin}"));
                continue;
            }
            match yaml_scalar_text(&value) {
                Some(text) => {
                    values.insert(key, text);
                }
                None => problems.push(format!(
                    "`{key}` in {origin}: expected a scalar or a list of scalars"
                )),
            }
        }
        if !problems.is_empty() {
            return Err(ConfigError::Invalid(problems));
        }
        Ok(FileValues { origin, values })
    }

    fn get(&self, key: &str) -> Option<String> {
        self.values.get(key).cloned()
    }
}

fn yaml_scalar_text(value: &serde_norway::Value) -> Option<String> {
    use serde_norway::Value;
    match value {
        Value::Null => Some(String::new()),
        Value::Bool(flag) => Some(flag.to_string()),
        Value::Number(number) => Some(number.to_string()),
        Value::String(text) => Some(text.clone()),
        Value::Sequence(items) => {
            let parts: Option<Vec<String>> = items.iter().map(yaml_scalar_text).collect();
            parts.map(|parts| parts.join(","))
        }
        _ => None,
    }
}

/// Failure to load the settings.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0}")]
    Usage(String),
    #[error("configuration file: {0}")]
    File(String),
    #[error("invalid configuration:\n  {}", .0.join("\n  "))]
    Invalid(Vec<String>),
}

impl ConfigError {
    /// Exits the process with clap's formatting for usage errors and code 64 (EX_USAGE)
    /// for invalid values.
    pub fn exit(self) -> ! {
        eprintln!("{self}");
        std::process::exit(64)
    }
}

// === Setting value types ===

/// Log level of the tracing output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl LogLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
        }
    }
}

impl SettingValue for LogLevel {
    fn parse_setting(text: &str) -> Result<Self, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "error" => Ok(LogLevel::Error),
            "warn" | "warning" => Ok(LogLevel::Warn),
            "info" => Ok(LogLevel::Info),
            "debug" => Ok(LogLevel::Debug),
            "trace" => Ok(LogLevel::Trace),
            _ => Err("expected one of error, warn, info, debug, trace".to_string()),
        }
    }
}

/// A value that is never printed by `Debug`, for tokens and passwords.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret<T>(pub T);

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl<T: SettingValue> SettingValue for Secret<T> {
    fn parse_setting(text: &str) -> Result<Self, String> {
        T::parse_setting(text).map(Secret)
    }
}

impl SettingValue for String {
    fn parse_setting(text: &str) -> Result<Self, String> {
        Ok(text.to_string())
    }
}

impl SettingValue for PathBuf {
    fn parse_setting(text: &str) -> Result<Self, String> {
        if text.is_empty() {
            return Err("expected a path".to_string());
        }
        Ok(PathBuf::from(text))
    }
}

impl SettingValue for bool {
    fn parse_setting(text: &str) -> Result<Self, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(true),
            "false" | "0" | "no" | "off" => Ok(false),
            _ => Err("expected true or false".to_string()),
        }
    }
}

impl SettingValue for IpAddr {
    fn parse_setting(text: &str) -> Result<Self, String> {
        let trimmed = text.trim().trim_start_matches('[').trim_end_matches(']');
        trimmed
            .parse()
            .map_err(|_| "expected an IPv4 or IPv6 address such as 0.0.0.0 or ::".to_string())
    }
}

/// Comma-separated list; surrounding spaces and empty items are dropped.
impl SettingValue for Vec<String> {
    fn parse_setting(text: &str) -> Result<Self, String> {
        Ok(text
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(str::to_string)
            .collect())
    }
}

/// Empty text means "not set".
impl<T: SettingValue> SettingValue for Option<T> {
    fn parse_setting(text: &str) -> Result<Self, String> {
        if text.trim().is_empty() {
            Ok(None)
        } else {
            T::parse_setting(text).map(Some)
        }
    }
}

macro_rules! numeric_setting {
    ($($ty:ty => $what:literal),*) => {$(
        impl SettingValue for $ty {
            fn parse_setting(text: &str) -> Result<Self, String> {
                text.trim().parse().map_err(|_| format!("expected {}", $what))
            }
        }
    )*};
}

numeric_setting!(
    u16 => "an integer from 0 to 65535",
    u32 => "a non-negative integer",
    u64 => "a non-negative integer",
    usize => "a non-negative integer",
    NonZeroU32 => "a positive integer",
    NonZeroU64 => "a positive integer",
    NonZeroUsize => "a positive integer"
);

#[cfg(test)]
mod tests {
    use super::*;

    fn load(args: &[&str]) -> Result<Settings, ConfigError> {
        let mut all = vec!["certstream-test"];
        all.extend_from_slice(args);
        Settings::try_from_args(all)
    }

    #[test]
    fn defaults_match_documented_values() {
        let settings = load(&[]).unwrap();
        assert_eq!(settings.port, 8080);
        assert_eq!(settings.host.to_string(), "0.0.0.0");
        assert_eq!(settings.buffer_size.get(), 1000);
        assert!(settings.ws_enabled);
        assert!(!settings.sse_enabled);
        assert_eq!(settings.tcp_port, 8081);
        assert_eq!(settings.ct_log_batch_size.get(), 256);
        assert_eq!(settings.ct_log_request_timeout_secs.get(), 30);
        assert_eq!(settings.ct_log_retry_max_attempts.get(), 3);
        assert_eq!(settings.auth_header_name, "Authorization");
        assert!(settings.auth_tokens.0.is_empty());
        assert!(settings.nats_url.is_none());
    }

    #[test]
    fn flag_without_value_sets_boolean() {
        let settings = load(&["--standalone"]).unwrap();
        assert!(settings.standalone);
    }

    #[test]
    fn invalid_flags_are_all_reported() {
        let err = load(&["--port", "80800", "--ws-enabled", "maybe"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("invalid value \"80800\" for --port"), "{err}");
        assert!(
            err.contains("invalid value \"maybe\" for --ws-enabled: expected true or false"),
            "{err}"
        );
    }

    #[test]
    fn file_values_apply_below_flags() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("certstream.yaml");
        std::fs::write(&path, "port: 9000\nbuffer_size: 5\nauth_tokens: [a, b]\n").unwrap();
        let path = path.to_str().unwrap();
        let settings = load(&["--config", path, "--buffer-size", "7"]).unwrap();
        assert_eq!(settings.port, 9000);
        assert_eq!(settings.buffer_size.get(), 7);
        assert_eq!(settings.auth_tokens.0, vec!["a", "b"]);
    }

    #[test]
    fn file_with_unknown_key_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("certstream.yaml");
        std::fs::write(&path, "prot: 9000\n").unwrap();
        let err = load(&["--config", path.to_str().unwrap()])
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown setting `prot`"), "{err}");
    }

    #[test]
    fn repeated_flag_takes_last_value() {
        let settings = load(&["--port", "1", "--port", "2"]).unwrap();
        assert_eq!(settings.port, 2);
    }

    #[test]
    fn watched_file_is_read_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("live.yaml");
        std::fs::write(&path, "buffer_size: 42\n").unwrap();
        let path = path.to_str().unwrap();
        let settings = load(&["--hot-reload-enabled", "--hot-reload-watch-path", path]).unwrap();
        assert_eq!(settings.buffer_size.get(), 42);
    }

    #[test]
    fn ipv6_host_is_accepted() {
        let settings = load(&["--host", "::"]).unwrap();
        assert!(settings.host.is_ipv6());
    }

    #[test]
    fn bad_file_value_names_file_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.yaml");
        std::fs::write(&path, "ct_log_batch_size: 0\n").unwrap();
        let err = load(&["--config", path.to_str().unwrap()])
            .unwrap_err()
            .to_string();
        assert!(err.contains("for `ct_log_batch_size` in"), "{err}");
        assert!(err.contains("expected a positive integer"), "{err}");
    }
}
