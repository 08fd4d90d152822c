//! Who is asking: the client a request is counted against by the limits.
//!
//! Behind a reverse proxy every TCP connection comes from the proxy, so the per-client
//! limits would add all candidates together and lock everyone out at once. When the peer
//! is one of `APP_TRUSTED_PROXIES`, the client is the rightmost `X-Forwarded-For` entry
//! that is not trusted: entries to its left were written by the client itself and can be
//! forged; entries to its right were added by our own proxies.

use std::net::IpAddr;

pub use ipnet::IpNet;

/// Parses `APP_TRUSTED_PROXIES`: comma-separated addresses or CIDR ranges.
pub fn parse_trusted_proxies(text: &str) -> Result<Vec<IpNet>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(|part| {
            part.parse::<IpNet>()
                .or_else(|_| part.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| part.to_string())
        })
        .collect()
}

/// The key the limits count this client under: an IPv4 address, or an IPv6 /64 (one
/// household or phone gets a whole /64, so single IPv6 addresses cost an attacker nothing).
pub fn client_key<'a>(
    peer: IpAddr,
    forwarded_for: impl Iterator<Item = &'a str>,
    trusted: &[IpNet],
) -> String {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    let mut client = canonical(peer);
    if is_trusted(&client) {
        // Every header line, every comma-separated entry, in order; read from the right.
        let entries: Vec<&str> = forwarded_for
            .flat_map(|line| line.split(','))
            .map(str::trim)
            .collect();
        for entry in entries.iter().rev() {
            let Some(ip) = parse_entry(entry) else {
                // Garbage written by someone: stop at the last address we can vouch for.
                break;
            };
            client = ip;
            if !is_trusted(&ip) {
                break;
            }
        }
    }
    key(client)
}

/// The network a client key belongs to: its IPv6 /48 (one site: a household, a
/// company, or an attacker's whole allocation of 65,536 /64s), or the IPv4 address
/// itself. Shares of what is scarce are counted by it, so many /64s cost an attacker
/// nothing there either.
pub fn network_of(client_key: &str) -> String {
    match client_key.parse::<ipnet::Ipv6Net>() {
        Ok(net) => ipnet::Ipv6Net::new(net.addr(), 48)
            .expect("48 is a valid prefix")
            .trunc()
            .to_string(),
        Err(_) => client_key.to_string(),
    }
}

/// The wider networks a client key belongs to, and how many times a client's ceiling
/// each may reach: an IPv6 /64's /56 (a household's or a small office's 256 /64s, 4×)
/// and /48 (a site, 16×). None for an IPv4 address: it is its own network.
pub fn wider_networks(client_key: &str) -> Vec<(String, i64)> {
    let Ok(net) = client_key.parse::<ipnet::Ipv6Net>() else {
        return Vec::new();
    };
    [(56, 4), (48, 16)]
        .into_iter()
        .map(|(prefix, times)| {
            let wider = ipnet::Ipv6Net::new(net.addr(), prefix).expect("a valid prefix");
            (wider.trunc().to_string(), times)
        })
        .collect()
}

/// An entry is an address, possibly with a port (`1.2.3.4:5678`, `[2001:db8::1]:443`).
fn parse_entry(entry: &str) -> Option<IpAddr> {
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    entry
        .parse::<std::net::SocketAddr>()
        .ok()
        .map(|s| canonical(s.ip()))
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

fn key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let net = ipnet::Ipv6Net::new(v6, 64).expect("64 is a valid prefix");
            net.trunc().to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_network_is_an_ipv6_slash_48_or_an_ipv4_address() {
        let key = client_key(ip("2001:db8:1:2:3:4:5:6"), std::iter::empty(), &[]);
        assert_eq!(key, "2001:db8:1:2::/64");
        assert_eq!(network_of(&key), "2001:db8:1::/48");
        let other = client_key(ip("2001:db8:1:ff00::1"), std::iter::empty(), &[]);
        assert_eq!(network_of(&other), network_of(&key));
        assert_eq!(network_of("198.51.100.7"), "198.51.100.7");
        assert_eq!(network_of("unknown"), "unknown");
        assert_eq!(
            wider_networks(&key),
            [
                ("2001:db8:1::/56".to_string(), 4),
                ("2001:db8:1::/48".to_string(), 16)
            ]
        );
        assert!(wider_networks("198.51.100.7").is_empty());
    }

    #[test]
    fn without_trusted_proxies_the_header_is_ignored() {
        let key = client_key(ip("198.51.100.7"), ["203.0.113.5"].into_iter(), &[]);
        assert_eq!(key, "198.51.100.7");
    }

    #[test]
    fn behind_a_trusted_proxy_the_client_is_the_rightmost_untrusted_entry() {
        let trusted = parse_trusted_proxies("127.0.0.1, 10.0.0.0/8").unwrap();
        // The client forged the first entry; our two proxies added the last two.
        let header = ["6.6.6.6, 203.0.113.5", "10.1.2.3"];
        let key = client_key(ip("127.0.0.1"), header.into_iter(), &trusted);
        assert_eq!(key, "203.0.113.5");
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_says() {
        let trusted = parse_trusted_proxies("10.0.0.1").unwrap();
        let key = client_key(ip("198.51.100.7"), ["203.0.113.5"].into_iter(), &trusted);
        assert_eq!(key, "198.51.100.7");
    }

    #[test]
    fn a_trusted_peer_without_the_header_is_the_client() {
        let trusted = parse_trusted_proxies("127.0.0.1").unwrap();
        assert_eq!(
            client_key(ip("127.0.0.1"), std::iter::empty(), &trusted),
            "127.0.0.1"
        );
    }

    #[test]
    fn garbage_in_the_header_stops_at_the_last_good_address() {
        let trusted = parse_trusted_proxies("127.0.0.1,10.0.0.0/8").unwrap();
        let header = ["203.0.113.5, nonsense, 10.0.0.2"];
        let key = client_key(ip("127.0.0.1"), header.into_iter(), &trusted);
        assert_eq!(key, "10.0.0.2");
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64() {
        let a = client_key(ip("2001:db8:1:2::1"), std::iter::empty(), &[]);
        let b = client_key(ip("2001:db8:1:2:ffff::9"), std::iter::empty(), &[]);
        let c = client_key(ip("2001:db8:1:3::1"), std::iter::empty(), &[]);
        assert_eq!(a, "2001:db8:1:2::/64");
        assert_eq!(a, b);
        assert_ne!(a, c);
        let mapped = client_key(ip("::ffff:192.0.2.1"), std::iter::empty(), &[]);
        assert_eq!(mapped, "192.0.2.1");
        let trusted = parse_trusted_proxies("::1").unwrap();
        let key = client_key(ip("::1"), ["[2001:db8::5]:443"].into_iter(), &trusted);
        assert_eq!(key, "2001:db8::/64");
    }

    #[test]
    fn bad_proxy_lists_are_refused() {
        assert_eq!(parse_trusted_proxies("").unwrap(), vec![]);
        assert_eq!(parse_trusted_proxies(" 10.0.0.0/8 ,::1").unwrap().len(), 2);
        assert_eq!(
            parse_trusted_proxies("10.0.0.0/8,proxy").unwrap_err(),
            "proxy"
        );
    }
}
