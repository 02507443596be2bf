//! Which addresses outbound requests may reach. Private, loopback, link-local, metadata and
//! other special-purpose ranges are refused unless the operator allows them by CIDR.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

#[derive(Debug, Clone, Default)]
pub struct OutboundPolicy {
    allowed: Vec<IpNet>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("destination address {address} is not allowed ({range}); allow it with HERALD_OUTBOUND_ALLOW_CIDRS")]
pub struct BlockedAddress {
    pub address: IpAddr,
    pub range: &'static str,
}

impl OutboundPolicy {
    pub fn new(allowed: Vec<IpNet>) -> Self {
        Self { allowed }
    }

    /// Parses `HERALD_OUTBOUND_ALLOW_CIDRS`: comma-separated CIDRs, or a bare address.
    pub fn parse_allow_list(raw: &str) -> Result<Vec<IpNet>, String> {
        raw.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<IpNet>()
                    .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("`{s}` is not a CIDR such as 10.0.0.0/8"))
            })
            .collect()
    }

    pub fn check(&self, address: IpAddr) -> Result<(), BlockedAddress> {
        let address = canonical(address);
        if self.allowed.iter().any(|net| net.contains(&address)) {
            return Ok(());
        }
        match special_purpose_range(address) {
            Some(range) => Err(BlockedAddress { address, range }),
            None => Ok(()),
        }
    }
}

/// IPv4-mapped (`::ffff:a.b.c.d`) and IPv4-compatible (`::a.b.c.d`) addresses are judged as the
/// IPv4 address they carry, so they cannot smuggle a private address past the IPv4 rules.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return IpAddr::V4(v4);
            }
            let s = v6.segments();
            if s[..6] == [0; 6] && !(s[6] == 0 && s[7] <= 1) {
                return IpAddr::V4(Ipv4Addr::new(
                    (s[6] >> 8) as u8,
                    s[6] as u8,
                    (s[7] >> 8) as u8,
                    s[7] as u8,
                ));
            }
            address
        }
        v4 => v4,
    }
}

fn special_purpose_range(address: IpAddr) -> Option<&'static str> {
    match address {
        IpAddr::V4(v4) => v4_range(v4),
        IpAddr::V6(v6) => v6_range(v6),
    }
}

fn v4_range(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        _ if ip.is_unspecified() || a == 0 => "unspecified / this network",
        _ if ip.is_loopback() => "loopback",
        (169, 254, _) => "link-local / cloud metadata",
        _ if ip.is_private() => "private (RFC 1918)",
        (100, 64..=127, _) => "carrier-grade NAT",
        (192, 0, 0) => "IETF protocol assignments",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "documentation",
        (198, 18..=19, _) => "benchmarking",
        _ if ip.is_multicast() => "multicast",
        _ if a >= 240 => "reserved / broadcast",
        _ => return None,
    })
}

fn v6_range(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    Some(match s[0] {
        _ if ip.is_unspecified() => "unspecified",
        _ if ip.is_loopback() => "loopback",
        0xfe80..=0xfebf => "link-local",
        0xfc00..=0xfdff => "unique-local",
        0xff00..=0xffff => "multicast",
        0x2001 if s[1] == 0x0db8 => "documentation",
        0x2001 if s[1] == 0 => "Teredo",
        0x2002 => "6to4",
        0x0064 if s[1] == 0xff9b => "NAT64",
        0x0100 if s[1..4] == [0, 0, 0] => "discard-only",
        0xfec0..=0xfeff => "site-local (deprecated)",
        0x0000 => "reserved (::/16)",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocked(policy: &OutboundPolicy, ip: &str) -> bool {
        policy.check(ip.parse().unwrap()).is_err()
    }

    #[test]
    fn special_ranges_are_refused_by_default() {
        let policy = OutboundPolicy::default();
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "192.0.2.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::127.0.0.1",
            "::ffff:10.0.0.1",
            "2001:db8::1",
            "64:ff9b::a00:1",
        ] {
            assert!(blocked(&policy, ip), "{ip} should be refused");
        }
    }

    #[test]
    fn public_addresses_pass() {
        let policy = OutboundPolicy::default();
        for ip in ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111"] {
            assert!(!blocked(&policy, ip), "{ip} should pass");
        }
    }

    #[test]
    fn the_allow_list_opens_exactly_its_ranges() {
        let allowed = OutboundPolicy::parse_allow_list("127.0.0.0/8, 10.0.0.5").unwrap();
        let policy = OutboundPolicy::new(allowed);
        assert!(!blocked(&policy, "127.0.0.1"));
        assert!(!blocked(&policy, "::ffff:127.0.0.1"));
        assert!(!blocked(&policy, "10.0.0.5"));
        assert!(blocked(&policy, "10.0.0.6"));
        assert!(OutboundPolicy::parse_allow_list("not-a-cidr").is_err());
    }
}
