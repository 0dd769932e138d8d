//! Who is on the other end of a request. Behind a reverse proxy (Caddy, an Ingress) every
//! connection comes from the proxy, so per-address throttling and audit events would see one
//! address for everyone; the proxy's `X-Forwarded-For` / `Forwarded` headers say who the
//! client is, but anyone can send those headers. So they are believed only from the proxies
//! an operator lists in `listen.trusted_proxy_cidrs`, walking the chain from the nearest hop
//! outwards and stopping at the first address that is not a trusted proxy (the leftmost entry
//! is whatever the client claimed and is never trusted on its own).
//!
//! Pure: header values in, an address out; the HTTP layer passes them in.

use ipnet::IpNet;
use std::net::IpAddr;
use std::str::FromStr;

/// The proxies whose forwarding headers are believed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    nets: Vec<IpNet>,
}

impl TrustedProxies {
    /// Parses CIDR blocks (`10.0.0.0/8`, `fd00::/8`) and single addresses (`127.0.0.1`).
    ///
    /// # Errors
    /// The first entry that is neither, quoted, for a configuration error message.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, String> {
        let mut nets = Vec::with_capacity(entries.len());
        for entry in entries {
            let entry = entry.as_ref().trim();
            let net = IpNet::from_str(entry)
                .or_else(|_| IpAddr::from_str(entry).map(IpNet::from))
                .map_err(|_| {
                    format!("{entry:?} is not an IP address or CIDR block (e.g. 10.0.0.0/8)")
                })?;
            nets.push(net.trunc());
        }
        Ok(Self { nets })
    }

    /// Whether no proxy is trusted (the default: forwarding headers are ignored).
    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }

    fn trusts(&self, address: IpAddr) -> bool {
        let address = address.to_canonical();
        self.nets.iter().any(|net| net.contains(&address))
    }

    /// The client's address for a connection from `peer` carrying these headers (all values
    /// of each header, in the order received). `Forwarded` (RFC 7239) wins over
    /// `X-Forwarded-For` when both are present.
    pub fn client_ip(&self, peer: IpAddr, forwarded: &[&str], x_forwarded_for: &[&str]) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.trusts(peer) {
            return peer;
        }
        let hops: Vec<Hop> = if forwarded.is_empty() {
            x_forwarded_for
                .iter()
                .flat_map(|value| value.split(','))
                .map(Hop::parse)
                .collect()
        } else {
            forwarded
                .iter()
                .flat_map(|value| value.split(','))
                .filter_map(forwarded_for)
                .map(Hop::parse)
                .collect()
        };
        let mut client = peer;
        for hop in hops.iter().rev() {
            match hop {
                Hop::Address(address) => {
                    client = *address;
                    if !self.trusts(*address) {
                        return client;
                    }
                }
                // An obfuscated or garbled hop: the last proxy we trust could not say who
                // sent it, so that proxy's view is the best we have.
                Hop::Unknown => return client,
            }
        }
        client
    }
}

/// One entry of a forwarding chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Hop {
    Address(IpAddr),
    Unknown,
}

impl Hop {
    /// An entry such as `203.0.113.7`, `203.0.113.7:4711`, `2001:db8::1`,
    /// `[2001:db8::1]:4711`, `"[2001:db8::1]"`, or `unknown`.
    fn parse(entry: &str) -> Self {
        let entry = entry.trim().trim_matches('"');
        if let Ok(address) = IpAddr::from_str(entry) {
            return Self::Address(address.to_canonical());
        }
        let host = match entry.strip_prefix('[') {
            Some(rest) => rest.split(']').next().unwrap_or(""),
            None => entry.rsplit_once(':').map_or("", |(host, _port)| host),
        };
        IpAddr::from_str(host).map_or(Self::Unknown, |address| {
            Self::Address(address.to_canonical())
        })
    }
}

/// The `for=` value of one `Forwarded` element (`for=1.2.3.4;proto=https;by=...`).
fn forwarded_for(element: &str) -> Option<&str> {
    element.split(';').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("for")
            .then_some(value.trim())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("test address")
    }

    fn proxies(entries: &[&str]) -> TrustedProxies {
        TrustedProxies::parse(entries).expect("valid entries")
    }

    #[test]
    fn headers_from_an_untrusted_peer_are_ignored() {
        let none = TrustedProxies::default();
        assert!(none.is_empty());
        assert_eq!(
            none.client_ip(ip("198.51.100.9"), &[], &["203.0.113.7"]),
            ip("198.51.100.9")
        );
        let some = proxies(&["10.0.0.0/8"]);
        assert_eq!(
            some.client_ip(ip("198.51.100.9"), &["for=203.0.113.7"], &["203.0.113.7"]),
            ip("198.51.100.9")
        );
    }

    #[test]
    fn the_first_untrusted_hop_from_the_right_is_the_client() {
        let trusted = proxies(&["10.0.0.0/8", "192.0.2.1"]);
        // The client claims to be 1.1.1.1; the edge proxy 192.0.2.1 saw 203.0.113.7.
        assert_eq!(
            trusted.client_ip(ip("10.1.2.3"), &[], &["1.1.1.1, 203.0.113.7", "192.0.2.1"]),
            ip("203.0.113.7")
        );
        assert_eq!(
            trusted.client_ip(ip("10.1.2.3"), &[], &["203.0.113.7"]),
            ip("203.0.113.7")
        );
        // A trusted peer that forwarded nothing is itself the client (a health probe).
        assert_eq!(trusted.client_ip(ip("10.1.2.3"), &[], &[]), ip("10.1.2.3"));
        // Every hop trusted: the leftmost one is the best answer.
        assert_eq!(
            trusted.client_ip(ip("10.1.2.3"), &[], &["10.9.9.9, 192.0.2.1"]),
            ip("10.9.9.9")
        );
    }

    #[test]
    fn forwarded_header_wins_and_its_forms_are_understood() {
        let trusted = proxies(&["127.0.0.1/32", "::1"]);
        assert_eq!(
            trusted.client_ip(
                ip("127.0.0.1"),
                &[r#"for="[2001:db8:cafe::17]:4711";proto=https, For=127.0.0.1"#],
                &["198.51.100.1"],
            ),
            ip("2001:db8:cafe::17")
        );
        assert_eq!(
            trusted.client_ip(ip("::1"), &["for=203.0.113.7:8080;proto=http"], &[]),
            ip("203.0.113.7")
        );
    }

    #[test]
    fn obfuscated_or_garbled_hops_stop_at_the_last_known_proxy() {
        let trusted = proxies(&["10.0.0.0/8"]);
        assert_eq!(
            trusted.client_ip(ip("10.0.0.2"), &["for=unknown, for=10.0.0.5"], &[]),
            ip("10.0.0.5")
        );
        assert_eq!(
            trusted.client_ip(ip("10.0.0.2"), &[], &["not an address"]),
            ip("10.0.0.2")
        );
    }

    #[test]
    fn ipv4_mapped_addresses_match_ipv4_blocks() {
        let trusted = proxies(&["10.0.0.0/8"]);
        assert_eq!(
            trusted.client_ip(ip("::ffff:10.0.0.2"), &[], &["::ffff:203.0.113.7"]),
            ip("203.0.113.7")
        );
    }

    #[test]
    fn bad_entries_are_named() {
        let error = TrustedProxies::parse(&["10.0.0.0/8", "10.0.0/33"]).expect_err("invalid");
        assert!(error.contains("\"10.0.0/33\""), "{error}");
        assert_eq!(
            proxies(&[" 10.1.2.3/8 "]),
            proxies(&["10.0.0.0/8"]),
            "host bits are dropped and blanks trimmed"
        );
    }
}
