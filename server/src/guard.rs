//! Abuse controls at the door, before any document is touched: who the
//! client is (the socket's peer, or a trusted proxy's header), whether its
//! page may open sockets here (`ALLOWED_ORIGINS`), how many connections it
//! and everyone may hold, and how fast it may guess OTPs.
//!
//! Everything here is bounded: the per-address tables only hold addresses
//! with open connections or recent OTP failures, and are pruned as they
//! grow.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use warp::http::HeaderMap;

use crate::config::Config;

/// The OTP failure window: `OTP_FAILURES_PER_MINUTE` failures within it
/// block that address until it ends.
const OTP_WINDOW: Duration = Duration::from_secs(60);

/// Beyond this many tracked addresses, stale OTP records are pruned.
const OTP_TABLE_PRUNE_AT: usize = 10_000;

/// Why a connection is refused at the door.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `MAX_CONNECTIONS` reached.
    ServerFull,
    /// `MAX_CONNECTIONS_PER_IP` reached for this address.
    AddressFull,
}

/// One address's recent OTP failures.
struct OtpFailures {
    /// When the current window started.
    since: Instant,
    /// Failures in it.
    count: u32,
}

/// The door's state, shared by all routes.
pub struct Guard {
    /// Most connections in total (0: no limit).
    max_connections: usize,
    /// Most connections per client address (0: no limit).
    max_per_address: usize,
    /// Wrong OTPs one address may send per minute before it is blocked.
    otp_failures_allowed: u32,
    /// The header a trusted reverse proxy puts the client's address in.
    trusted_header: Option<String>,
    /// Origins whose pages may open sockets (`None`: any).
    allowed_origins: Option<Vec<String>>,
    /// Open connections.
    total: AtomicUsize,
    /// Open connections per address (only addresses with some).
    per_address: Mutex<HashMap<IpAddr, usize>>,
    /// Recent OTP failures per address.
    otp_failures: Mutex<HashMap<IpAddr, OtpFailures>>,
}

/// Holds one connection's place; released when dropped.
pub struct Permit {
    /// The guard to give the place back to.
    guard: Arc<Guard>,
    /// The address it counts against.
    address: IpAddr,
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.guard.total.fetch_sub(1, Ordering::Relaxed);
        let mut table = self.guard.per_address.lock();
        if let Some(n) = table.get_mut(&self.address) {
            *n -= 1;
            if *n == 0 {
                table.remove(&self.address);
            }
        }
    }
}

impl Guard {
    /// A guard with the configured limits.
    pub fn new(config: &Config) -> Guard {
        Guard {
            max_connections: config.max_connections,
            max_per_address: config.max_connections_per_ip,
            otp_failures_allowed: config.otp_failures_per_minute,
            trusted_header: config.trusted_proxy_header.clone(),
            allowed_origins: config.allowed_origins.clone(),
            total: AtomicUsize::new(0),
            per_address: Mutex::new(HashMap::new()),
            otp_failures: Mutex::new(HashMap::new()),
        }
    }

    /// The client's address: the socket's peer, unless a trusted proxy
    /// header is configured and present. For `X-Forwarded-For` the last
    /// entry counts (the one the trusted proxy added; earlier ones come
    /// from the client and prove nothing).
    pub fn client_address(&self, peer: Option<SocketAddr>, headers: &HeaderMap) -> IpAddr {
        let fallback = peer.map_or(IpAddr::from([0, 0, 0, 0]), |p| p.ip());
        let Some(name) = &self.trusted_header else {
            return fallback;
        };
        headers
            .get(name.as_str())
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(fallback)
    }

    /// Whether a socket may be opened from a page at `origin`.
    pub fn origin_allowed(&self, origin: Option<&str>) -> bool {
        match (&self.allowed_origins, origin) {
            (None, _) => true,
            (Some(list), Some(origin)) => list.iter().any(|o| o.eq_ignore_ascii_case(origin)),
            // A non-browser client sends no Origin; browsers always do, so
            // cross-site hijacking is still prevented.
            (Some(_), None) => true,
        }
    }

    /// A place for one more connection from `address`.
    pub fn admit(self: &Arc<Self>, address: IpAddr) -> Result<Permit, Refusal> {
        let mut table = self.per_address.lock();
        let mine = table.get(&address).copied().unwrap_or(0);
        if self.max_per_address > 0 && mine >= self.max_per_address {
            return Err(Refusal::AddressFull);
        }
        let total = self.total.fetch_add(1, Ordering::Relaxed);
        if self.max_connections > 0 && total >= self.max_connections {
            self.total.fetch_sub(1, Ordering::Relaxed);
            return Err(Refusal::ServerFull);
        }
        table.insert(address, mine + 1);
        Ok(Permit {
            guard: self.clone(),
            address,
        })
    }

    /// If `address` sent too many wrong OTPs lately, how long until it may
    /// try again.
    pub fn otp_blocked(&self, address: IpAddr) -> Option<Duration> {
        let table = self.otp_failures.lock();
        let f = table.get(&address)?;
        let elapsed = f.since.elapsed();
        (f.count >= self.otp_failures_allowed && elapsed < OTP_WINDOW).then(|| OTP_WINDOW - elapsed)
    }

    /// Records a wrong (or missing) OTP from `address`.
    pub fn otp_failed(&self, address: IpAddr) {
        let mut table = self.otp_failures.lock();
        if table.len() >= OTP_TABLE_PRUNE_AT {
            table.retain(|_, f| f.since.elapsed() < OTP_WINDOW);
        }
        let f = table.entry(address).or_insert(OtpFailures {
            since: Instant::now(),
            count: 0,
        });
        if f.since.elapsed() >= OTP_WINDOW {
            *f = OtpFailures {
                since: Instant::now(),
                count: 0,
            };
        }
        f.count = f.count.saturating_add(1);
    }

    /// Open connections (for tests and metrics).
    pub fn connections(&self) -> usize {
        self.total.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap as Map;

    fn guard(vars: &[(&str, &str)]) -> Arc<Guard> {
        let vars: Map<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Arc::new(Guard::new(&Config::from_vars(&vars).unwrap()))
    }

    #[test]
    fn connection_limits_per_address_and_in_total() {
        let g = guard(&[("MAX_CONNECTIONS", "3"), ("MAX_CONNECTIONS_PER_IP", "2")]);
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        let p1 = g.admit(a).unwrap();
        let _p2 = g.admit(a).unwrap();
        assert_eq!(g.admit(a).err(), Some(Refusal::AddressFull));
        let _p3 = g.admit(b).unwrap();
        assert_eq!(g.admit(b).err(), Some(Refusal::ServerFull));
        drop(p1);
        let _p4 = g.admit(a).unwrap();
        assert_eq!(g.connections(), 3);
    }

    #[test]
    fn otp_failures_block_an_address_for_the_window() {
        let g = guard(&[("OTP_FAILURES_PER_MINUTE", "3")]);
        let a: IpAddr = [10, 0, 0, 1].into();
        for _ in 0..3 {
            assert!(g.otp_blocked(a).is_none());
            g.otp_failed(a);
        }
        let wait = g.otp_blocked(a).unwrap();
        assert!(wait <= OTP_WINDOW && wait > Duration::from_secs(50));
        assert!(g.otp_blocked([10, 0, 0, 2].into()).is_none());
    }

    #[test]
    fn client_address_trusts_only_the_configured_header() {
        let peer: SocketAddr = "192.0.2.7:5000".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", "1.1.1.1, 203.0.113.9".parse().unwrap());
        let plain = guard(&[]);
        assert_eq!(plain.client_address(Some(peer), &headers), peer.ip());
        let proxied = guard(&[("TRUSTED_PROXY_HEADER", "X-Forwarded-For")]);
        let expected: IpAddr = "203.0.113.9".parse().unwrap();
        assert_eq!(proxied.client_address(Some(peer), &headers), expected);
        assert_eq!(
            proxied.client_address(Some(peer), &HeaderMap::new()),
            peer.ip()
        );
    }

    #[test]
    fn origins() {
        let any = guard(&[]);
        assert!(any.origin_allowed(Some("https://evil.example")));
        let one = guard(&[(
            "ALLOWED_ORIGINS",
            "https://pad.example.com, http://localhost:3030",
        )]);
        assert!(one.origin_allowed(Some("https://pad.example.com")));
        assert!(one.origin_allowed(Some("http://localhost:3030")));
        assert!(!one.origin_allowed(Some("https://evil.example")));
        assert!(one.origin_allowed(None));
    }
}
