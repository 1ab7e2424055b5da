//! Settings of a fake CT log server: which fixture logs it serves, how each one grows, and the
//! `get-entries` page size.

use std::time::Duration;

/// Maximum entries per `get-entries` response unless configured otherwise.
pub const DEFAULT_PAGE_SIZE: usize = 256;

/// The fixture logs the fake server can serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogFixture {
    /// The 20 entries captured from production RFC 6962 logs (Google Argon2026h2, Cloudflare
    /// Nimbus2026), at indices 0 to 19.
    Live,
    /// The first 1024 entries of the navigli2025h2 Static CT log, served as RFC 6962 entries.
    Navigli,
    /// The same 1024 navigli entries served over the Static CT API: a signed checkpoint, data
    /// tiles (partial ones at the tip) and issuer certificates. Listed under `tiled_logs`.
    NavigliStatic,
}

impl LogFixture {
    /// The RFC 6962 fixtures, in the order the default configuration serves them.
    /// [`LogFixture::NavigliStatic`] is served only when a configuration lists it.
    pub const ALL: [LogFixture; 2] = [LogFixture::Live, LogFixture::Navigli];

    /// Whether the log is served over the Static CT API instead of RFC 6962.
    pub fn is_static_ct(self) -> bool {
        self == LogFixture::NavigliStatic
    }

    /// Name of the log, which is also its URL path prefix (`/live/`, `/navigli/`).
    pub fn name(self) -> &'static str {
        match self {
            LogFixture::Live => "live",
            LogFixture::Navigli => "navigli",
            LogFixture::NavigliStatic => "navigli-static",
        }
    }

    /// Description written to the log list.
    pub fn description(self) -> &'static str {
        match self {
            LogFixture::Live => "Test Log 'Live'",
            LogFixture::Navigli => "Test Log 'Navigli'",
            LogFixture::NavigliStatic => "Test Log 'Navigli Static'",
        }
    }
}

/// How a log's tree grows: it starts at `initial_size` entries and adds `step` entries every
/// `interval` until every fixture entry is in the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Growth {
    /// Tree size when the server starts.
    pub initial_size: u64,
    /// Entries added per growth step. Zero keeps the tree at `initial_size`.
    pub step: u64,
    /// Time between growth steps. Must be non-zero when `step` is non-zero.
    pub interval: Duration,
}

impl Default for Growth {
    /// Starts empty and grows by 128 entries every 250 ms, so the 1024-entry log is complete
    /// after 2 seconds.
    fn default() -> Self {
        Self {
            initial_size: 0,
            step: 128,
            interval: Duration::from_millis(250),
        }
    }
}

/// One log served by the fake server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogSpec {
    /// Which fixture the log serves.
    pub fixture: LogFixture,
    /// How its tree grows.
    pub growth: Growth,
}

/// Settings of the whole fake server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeLogConfig {
    /// TCP port on 127.0.0.1, or 0 for a port the OS picks.
    pub port: u16,
    /// Maximum entries per `get-entries` response. Larger requests get a short page.
    pub page_size: usize,
    /// Logs to serve, each fixture at most once.
    pub logs: Vec<LogSpec>,
    /// Whether Static CT logs serve partial data tiles. Without them a client must wait for
    /// the full tile, which exercises its fallback from a missing partial tile.
    pub partial_tiles: bool,
}

impl Default for FakeLogConfig {
    /// Serves every fixture with the default growth on an OS-assigned port.
    fn default() -> Self {
        Self::with_growth(Growth::default())
    }
}

impl FakeLogConfig {
    /// Serves only the Static CT navigli log with `growth` on an OS-assigned port.
    pub fn static_ct(growth: Growth) -> Self {
        Self {
            logs: vec![LogSpec {
                fixture: LogFixture::NavigliStatic,
                growth,
            }],
            ..Self::with_growth(growth)
        }
    }

    /// Serves every RFC 6962 fixture with the same growth on an OS-assigned port.
    pub fn with_growth(growth: Growth) -> Self {
        Self {
            port: 0,
            page_size: DEFAULT_PAGE_SIZE,
            partial_tiles: true,
            logs: LogFixture::ALL
                .iter()
                .map(|&fixture| LogSpec { fixture, growth })
                .collect(),
        }
    }

    /// Checks the settings that do not depend on the fixture contents.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.page_size == 0 {
            return Err(ConfigError::ZeroPageSize);
        }
        if self.logs.is_empty() {
            return Err(ConfigError::NoLogs);
        }
        for (position, spec) in self.logs.iter().enumerate() {
            let log = spec.fixture.name();
            if self.logs[..position]
                .iter()
                .any(|earlier| earlier.fixture == spec.fixture)
            {
                return Err(ConfigError::DuplicateLog { log });
            }
            if spec.growth.step > 0 && spec.growth.interval.is_zero() {
                return Err(ConfigError::ZeroInterval { log });
            }
        }
        Ok(())
    }
}

/// Invalid fake log settings.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("page size must be at least 1")]
    ZeroPageSize,
    #[error("no logs configured: add at least one log spec")]
    NoLogs,
    #[error("log {log} is configured twice: serve each fixture at most once")]
    DuplicateLog { log: &'static str },
    #[error("log {log} grows with a zero interval: set an interval or a step of 0")]
    ZeroInterval { log: &'static str },
    #[error("log {log} has an initial size of {initial_size} but only {entries} entries")]
    InitialSizeTooLarge {
        log: &'static str,
        initial_size: u64,
        entries: u64,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_is_valid() {
        let config = FakeLogConfig::default();

        assert_eq!(config.validate(), Ok(()));
        assert_eq!(config.page_size, 256);
        assert_eq!(config.logs.len(), 2);
    }

    #[test]
    fn invalid_configs_are_rejected() {
        let zero_page = FakeLogConfig {
            page_size: 0,
            ..FakeLogConfig::default()
        };
        assert_eq!(zero_page.validate(), Err(ConfigError::ZeroPageSize));

        let mut no_logs = FakeLogConfig::default();
        no_logs.logs.clear();
        assert_eq!(no_logs.validate(), Err(ConfigError::NoLogs));

        let mut duplicate = FakeLogConfig::default();
        duplicate.logs.push(duplicate.logs[0]);
        assert_eq!(
            duplicate.validate(),
            Err(ConfigError::DuplicateLog { log: "live" })
        );

        let zero_interval = FakeLogConfig::with_growth(Growth {
            initial_size: 0,
            step: 1,
            interval: Duration::ZERO,
        });
        assert_eq!(
            zero_interval.validate(),
            Err(ConfigError::ZeroInterval { log: "live" })
        );
    }

    #[test]
    fn zero_step_allows_zero_interval() {
        let config = FakeLogConfig::with_growth(Growth {
            initial_size: 5,
            step: 0,
            interval: Duration::ZERO,
        });

        assert_eq!(config.validate(), Ok(()));
    }
}
