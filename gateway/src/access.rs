//! Who may connect: the client IP (from X-Forwarded-For only when the peer is a trusted proxy),
//! total and per-IP connection limits, and bearer tokens. Checked before a WebSocket upgrade or
//! an SSE response, so a rejected client gets a plain HTTP status.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, RwLock};

use axum::http::{HeaderMap, StatusCode};
use ipnet::IpNet;
use subtle::ConstantTimeEq;

use certstream_shared::Settings;

/// Reason a connection was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    TooManyConnections,
    TooManyFromAddress,
    Unauthorized,
}

impl Rejection {
    pub fn status(self) -> StatusCode {
        match self {
            Rejection::TooManyConnections | Rejection::TooManyFromAddress => {
                StatusCode::TOO_MANY_REQUESTS
            }
            Rejection::Unauthorized => StatusCode::UNAUTHORIZED,
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Rejection::TooManyConnections => "too many connections to this server\n",
            Rejection::TooManyFromAddress => "too many connections from your address\n",
            Rejection::Unauthorized => {
                "missing or invalid token: send `Authorization: Bearer <token>`\n"
            }
        }
    }

    pub fn as_label(self) -> &'static str {
        match self {
            Rejection::TooManyConnections => "total_limit",
            Rejection::TooManyFromAddress => "per_ip_limit",
            Rejection::Unauthorized => "unauthorized",
        }
    }
}

/// Access rules and the connection counts they apply to. The rules can be replaced while the
/// gateway runs (hot reload); the counts stay.
pub struct Access {
    rules: RwLock<Arc<Rules>>,
    counts: Mutex<Counts>,
}

/// The settings-derived part of [`Access`].
struct Rules {
    limits_enabled: bool,
    max_total: usize,
    max_per_ip: usize,
    trusted_proxies: Vec<IpNet>,
    tokens: Option<Vec<Vec<u8>>>,
    header_name: String,
}

impl Rules {
    /// Parses the trusted proxies and checks the token settings; errors name the setting.
    fn from_settings(settings: &Settings) -> Result<Self, String> {
        let trusted_proxies = settings
            .trusted_proxies
            .iter()
            .map(|entry| parse_network(entry))
            .collect::<Result<Vec<_>, _>>()?;
        let tokens = settings.auth_enabled.then(|| {
            settings
                .auth_tokens
                .0
                .iter()
                .map(|token| token.as_bytes().to_vec())
                .collect::<Vec<_>>()
        });
        if tokens.as_ref().is_some_and(Vec::is_empty) {
            return Err(
                "CERTSTREAM_AUTH_ENABLED is true but CERTSTREAM_AUTH_TOKENS is empty".to_string(),
            );
        }
        Ok(Rules {
            limits_enabled: settings.connection_limit_enabled,
            max_total: settings.connection_limit_max_connections.get(),
            max_per_ip: settings.connection_limit_per_ip_limit.get(),
            trusted_proxies,
            tokens,
            header_name: settings.auth_header_name.clone(),
        })
    }

    fn is_trusted(&self, ip: IpAddr) -> bool {
        self.trusted_proxies
            .iter()
            .any(|network| network.contains(&ip))
    }
}

#[derive(Default)]
struct Counts {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

/// A connection slot; released when dropped.
pub struct Permit {
    access: Arc<Access>,
    ip: IpAddr,
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut counts = self
            .access
            .counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        counts.total = counts.total.saturating_sub(1);
        if let Some(count) = counts.per_ip.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                counts.per_ip.remove(&self.ip);
            }
        }
    }
}

impl Access {
    /// Builds the rules from the settings; an invalid entry is an error naming it.
    pub fn from_settings(settings: &Settings) -> Result<Self, String> {
        Ok(Access {
            rules: RwLock::new(Arc::new(Rules::from_settings(settings)?)),
            counts: Mutex::new(Counts::default()),
        })
    }

    /// Replaces the rules (tokens, limits, trusted proxies) with those of `settings`. Open
    /// connections keep their slots; the new rules apply to the next connection.
    pub fn update(&self, settings: &Settings) -> Result<(), String> {
        let rules = Arc::new(Rules::from_settings(settings)?);
        *self
            .rules
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = rules;
        Ok(())
    }

    fn rules(&self) -> Arc<Rules> {
        self.rules
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// The client's IP: the peer address, or for a trusted proxy the rightmost address of
    /// X-Forwarded-For that is not itself a trusted proxy.
    pub fn client_ip(&self, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
        let rules = self.rules();
        let peer_ip = peer.ip().to_canonical();
        if !rules.is_trusted(peer_ip) {
            return peer_ip;
        }
        let forwarded = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .filter_map(|item| item.parse::<IpAddr>().ok())
            .map(|ip| ip.to_canonical())
            .collect::<Vec<_>>();
        forwarded
            .into_iter()
            .rev()
            .find(|ip| !rules.is_trusted(*ip))
            .unwrap_or(peer_ip)
    }

    /// Checks the token when authentication is on. Compares against every accepted token in
    /// constant time, so the time taken does not reveal how much of a token matched.
    pub fn authorize(&self, headers: &HeaderMap) -> Result<(), Rejection> {
        let rules = self.rules();
        let Some(tokens) = &rules.tokens else {
            return Ok(());
        };
        let presented = headers
            .get(rules.header_name.as_str())
            .and_then(|value| value.to_str().ok())
            .and_then(|value| {
                value
                    .strip_prefix("Bearer ")
                    .or_else(|| value.strip_prefix("bearer "))
            })
            .map(str::trim)
            .unwrap_or("");
        let mut matched = subtle::Choice::from(0);
        for token in tokens {
            matched |= presented.as_bytes().ct_eq(token);
        }
        if bool::from(matched) && !presented.is_empty() {
            Ok(())
        } else {
            Err(Rejection::Unauthorized)
        }
    }

    /// Takes a connection slot for `ip`, or returns the limit that is full.
    pub fn acquire(self: &Arc<Self>, ip: IpAddr) -> Result<Permit, Rejection> {
        let mut counts = self
            .counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let rules = self.rules();
        if rules.limits_enabled {
            if counts.total >= rules.max_total {
                return Err(Rejection::TooManyConnections);
            }
            if counts.per_ip.get(&ip).copied().unwrap_or(0) >= rules.max_per_ip {
                return Err(Rejection::TooManyFromAddress);
            }
        }
        counts.total += 1;
        *counts.per_ip.entry(ip).or_insert(0) += 1;
        Ok(Permit {
            access: self.clone(),
            ip,
        })
    }

    /// Connections currently holding a permit.
    pub fn connections(&self) -> usize {
        self.counts.lock().map(|counts| counts.total).unwrap_or(0)
    }
}

fn parse_network(entry: &str) -> Result<IpNet, String> {
    entry
        .parse::<IpNet>()
        .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| {
            format!("invalid trusted proxy {entry:?}: expected an IP address or a CIDR range")
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn access(args: &[&str]) -> Arc<Access> {
        let mut all = vec!["test"];
        all.extend_from_slice(args);
        Arc::new(Access::from_settings(&Settings::try_from_args(all).unwrap()).unwrap())
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn forwarded_for_ignored_from_untrusted_peer() {
        let access = access(&[]);
        let peer: SocketAddr = "203.0.113.7:5000".parse().unwrap();
        let ip = access.client_ip(peer, &headers(&[("x-forwarded-for", "198.51.100.1")]));
        assert_eq!(ip.to_string(), "203.0.113.7");
    }

    #[test]
    fn forwarded_for_used_from_trusted_proxy() {
        let access = access(&["--trusted-proxies", "10.0.0.0/8, 192.0.2.1"]);
        let peer: SocketAddr = "10.1.2.3:5000".parse().unwrap();
        let forwarded = headers(&[("x-forwarded-for", "198.51.100.1, 203.0.113.9, 192.0.2.1")]);
        assert_eq!(
            access.client_ip(peer, &forwarded).to_string(),
            "203.0.113.9"
        );
    }

    #[test]
    fn invalid_trusted_proxy_is_rejected() {
        let settings =
            Settings::try_from_args(["test", "--trusted-proxies", "10.0.0.0/33"]).unwrap();
        let err = Access::from_settings(&settings).err().unwrap();
        assert!(
            err.contains("invalid trusted proxy \"10.0.0.0/33\""),
            "{err}"
        );
    }

    #[test]
    fn per_ip_limit_released_on_drop() {
        let access = access(&[
            "--connection-limit-enabled",
            "--connection-limit-per-ip-limit",
            "2",
        ]);
        let ip: IpAddr = "192.0.2.10".parse().unwrap();
        let first = access.acquire(ip).unwrap();
        let _second = access.acquire(ip).unwrap();
        assert_eq!(
            access.acquire(ip).err(),
            Some(Rejection::TooManyFromAddress)
        );
        assert!(access.acquire("192.0.2.11".parse().unwrap()).is_ok());
        drop(first);
        assert!(access.acquire(ip).is_ok());
    }

    #[test]
    fn total_limit_applies_across_addresses() {
        let access = access(&[
            "--connection-limit-enabled",
            "--connection-limit-max-connections",
            "1",
        ]);
        let _held = access.acquire("192.0.2.1".parse().unwrap()).unwrap();
        assert_eq!(
            access.acquire("192.0.2.2".parse().unwrap()).err(),
            Some(Rejection::TooManyConnections)
        );
    }

    #[test]
    fn bearer_token_checked() {
        let access = access(&["--auth-enabled", "--auth-tokens", "alpha,beta"]);
        assert!(access
            .authorize(&headers(&[("authorization", "Bearer beta")]))
            .is_ok());
        assert_eq!(
            access.authorize(&headers(&[("authorization", "Bearer gamma")])),
            Err(Rejection::Unauthorized)
        );
        assert_eq!(
            access.authorize(&headers(&[("authorization", "Bearer ")])),
            Err(Rejection::Unauthorized)
        );
        assert_eq!(
            access.authorize(&headers(&[])),
            Err(Rejection::Unauthorized)
        );
    }

    #[test]
    fn custom_header_carries_token() {
        let access = access(&[
            "--auth-enabled",
            "--auth-tokens",
            "alpha",
            "--auth-header-name",
            "X-Api-Key",
        ]);
        assert!(access
            .authorize(&headers(&[("x-api-key", "Bearer alpha")]))
            .is_ok());
        assert_eq!(
            access.authorize(&headers(&[("authorization", "Bearer alpha")])),
            Err(Rejection::Unauthorized)
        );
    }
}
