//! The SSRF guard's rule: which resolved addresses Gatehouse may connect to when it fetches
//! an upstream's discovery document, keys, tokens or user-info. The caller resolves the host
//! first and checks every address, then connects only to a checked one, so a name that
//! resolves to a cloud metadata service or to the host itself is refused. Private ranges
//! (RFC 1918, RFC 4193) stay allowed: a homelab Forgejo usually lives there.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// Link-local, including the cloud metadata address 169.254.169.254 and `fe80::/10`.
    LinkLocal,
    /// `0.0.0.0`, `::`.
    Unspecified,
    /// Multicast or broadcast.
    Multicast,
    /// Loopback, unless allowed by configuration (`sources.allow_loopback`).
    Loopback,
}

/// Checks one resolved address. IPv4-mapped and IPv4-compatible IPv6 addresses are judged as
/// the IPv4 address they carry.
pub fn check(ip: IpAddr, allow_loopback: bool) -> Result<(), Refused> {
    match ip {
        IpAddr::V4(v4) => check_v4(v4, allow_loopback),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped().or_else(|| embedded_v4(v6)) {
            Some(v4) => check_v4(v4, allow_loopback),
            None => check_v6(v6, allow_loopback),
        },
    }
}

fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    // The deprecated IPv4-compatible form ::a.b.c.d (but not :: and ::1).
    let segments = v6.segments();
    (segments[..6].iter().all(|s| *s == 0) && v6.to_bits() > 1).then(|| {
        let bits = v6.to_bits() as u32;
        Ipv4Addr::from(bits)
    })
}

fn check_v4(ip: Ipv4Addr, allow_loopback: bool) -> Result<(), Refused> {
    if ip.is_unspecified() || ip.octets()[0] == 0 {
        Err(Refused::Unspecified)
    } else if ip.is_link_local() {
        Err(Refused::LinkLocal)
    } else if ip.is_multicast() || ip.is_broadcast() {
        Err(Refused::Multicast)
    } else if ip.is_loopback() && !allow_loopback {
        Err(Refused::Loopback)
    } else {
        Ok(())
    }
}

fn check_v6(ip: Ipv6Addr, allow_loopback: bool) -> Result<(), Refused> {
    if ip.is_unspecified() {
        Err(Refused::Unspecified)
    } else if ip.is_unicast_link_local() {
        Err(Refused::LinkLocal)
    } else if ip.is_multicast() {
        Err(Refused::Multicast)
    } else if ip.is_loopback() && !allow_loopback {
        Err(Refused::Loopback)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("address")
    }

    #[test]
    fn metadata_link_local_unspecified_and_multicast_are_always_refused() {
        for (address, why) in [
            ("169.254.169.254", Refused::LinkLocal),
            ("169.254.0.1", Refused::LinkLocal),
            ("fe80::1", Refused::LinkLocal),
            ("::ffff:169.254.169.254", Refused::LinkLocal),
            ("::169.254.169.254", Refused::LinkLocal),
            ("0.0.0.0", Refused::Unspecified),
            ("0.1.2.3", Refused::Unspecified),
            ("::", Refused::Unspecified),
            ("224.0.0.1", Refused::Multicast),
            ("255.255.255.255", Refused::Multicast),
            ("ff02::1", Refused::Multicast),
        ] {
            assert_eq!(check(ip(address), true), Err(why), "{address}");
        }
    }

    #[test]
    fn loopback_only_when_allowed_and_private_ranges_always() {
        for address in ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"] {
            assert_eq!(
                check(ip(address), false),
                Err(Refused::Loopback),
                "{address}"
            );
            assert_eq!(check(ip(address), true), Ok(()), "{address}");
        }
        for address in [
            "10.0.0.5",
            "172.16.1.1",
            "192.168.1.10",
            "fd00::5",
            "140.82.112.3",
            "2001:db8::1",
        ] {
            assert_eq!(check(ip(address), false), Ok(()), "{address}");
        }
    }
}
