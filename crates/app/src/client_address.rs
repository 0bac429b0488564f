//! Which address a request comes from, for the sign-in and client-authentication limits.
//! Behind a load balancer every peer is the balancer, so one attacker would lock out
//! everyone; but `X-Forwarded-For` is whatever the sender wrote, so it is believed only
//! from peers the operator names (`--trusted-proxies`), and only as far as the chain of
//! trusted hops reaches.

use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;

/// The networks whose `X-Forwarded-For` is believed. Empty by default: the peer counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Parses a list of CIDR networks or single addresses (`10.0.0.0/8`, `::1`).
    pub fn parse<'a>(entries: impl IntoIterator<Item = &'a str>) -> Result<Self, String> {
        let mut networks = Vec::new();
        for entry in entries.into_iter().map(str::trim).filter(|e| !e.is_empty()) {
            let network = IpNet::from_str(entry)
                .or_else(|_| IpAddr::from_str(entry).map(IpNet::from))
                .map_err(|_| format!("`{entry}` is neither a CIDR network nor an IP address"))?;
            networks.push(network);
        }
        Ok(Self(networks))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn trusts(&self, address: IpAddr) -> bool {
        let address = canonical(address);
        self.0.iter().any(|network| network.contains(&address))
    }

    /// The client's address: the peer, unless the peer is trusted; then the nearest
    /// address in `X-Forwarded-For` (read right to left, `forwarded_for` in header order)
    /// that is not itself a trusted proxy. An entry that is not an address ends the walk
    /// at the last trusted hop, so a forged or garbled header never picks the address.
    pub fn client_address<'a>(
        &self,
        peer: IpAddr,
        forwarded_for: impl DoubleEndedIterator<Item = &'a str>,
    ) -> IpAddr {
        let mut client = canonical(peer);
        if !self.trusts(client) {
            return client;
        }
        for hop in forwarded_for.rev().flat_map(|value| value.rsplit(',')) {
            let Ok(hop) = IpAddr::from_str(hop.trim()) else {
                break;
            };
            client = canonical(hop);
            if !self.trusts(client) {
                break;
            }
        }
        client
    }
}

/// An IPv4 peer of a dual-stack socket arrives as `::ffff:a.b.c.d`; counted as IPv4 so
/// one client is one key and `10.0.0.0/8` matches it.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn proxies(list: &[&str]) -> TrustedProxies {
        TrustedProxies::parse(list.iter().copied()).unwrap()
    }

    #[test]
    fn without_trusted_proxies_the_peer_counts_whatever_the_header_says() {
        let none = TrustedProxies::default();
        assert_eq!(
            none.client_address(ip("10.0.0.5"), ["203.0.113.9"].into_iter()),
            ip("10.0.0.5")
        );
    }

    #[test]
    fn an_untrusted_peer_cannot_choose_its_address() {
        let trusted = proxies(&["10.0.0.0/8"]);
        assert_eq!(
            trusted.client_address(ip("198.51.100.7"), ["203.0.113.9"].into_iter()),
            ip("198.51.100.7")
        );
    }

    #[test]
    fn a_trusted_peer_names_the_nearest_untrusted_hop() {
        let trusted = proxies(&["10.0.0.0/8", "192.0.2.1"]);
        // The client forged the first entry; the balancer appended what it saw.
        let header = ["1.2.3.4, 203.0.113.9", "192.0.2.1"];
        assert_eq!(
            trusted.client_address(ip("10.1.2.3"), header.into_iter()),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn a_chain_of_trusted_hops_only_gives_the_last_one() {
        let trusted = proxies(&["10.0.0.0/8"]);
        assert_eq!(
            trusted.client_address(ip("10.1.2.3"), ["10.9.9.9"].into_iter()),
            ip("10.9.9.9")
        );
        assert_eq!(
            trusted.client_address(ip("10.1.2.3"), std::iter::empty()),
            ip("10.1.2.3")
        );
    }

    #[test]
    fn a_garbled_entry_stops_at_the_last_trusted_hop() {
        let trusted = proxies(&["10.0.0.0/8"]);
        let header = ["203.0.113.9, unknown, 10.4.4.4"];
        assert_eq!(
            trusted.client_address(ip("10.1.2.3"), header.into_iter()),
            ip("10.4.4.4")
        );
    }

    #[test]
    fn ipv4_mapped_peers_match_ipv4_networks() {
        let trusted = proxies(&["127.0.0.1"]);
        assert_eq!(
            trusted.client_address(ip("::ffff:127.0.0.1"), ["2001:db8::1"].into_iter()),
            ip("2001:db8::1")
        );
    }

    #[test]
    fn the_list_takes_networks_and_addresses_and_names_a_bad_entry() {
        assert_eq!(proxies(&["10.0.0.0/8", " ::1 ", ""]).0.len(), 2);
        let error = TrustedProxies::parse(["10.0.0.0/8", "10.0.0.0/33"]).unwrap_err();
        assert!(error.contains("`10.0.0.0/33`"), "{error}");
    }
}
