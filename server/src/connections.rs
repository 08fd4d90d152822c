//! Connections on the deadline night: a request head must arrive within
//! [`HEAD_WITHIN`] (a connection that sends half a head, or stays idle between
//! requests, is closed then), and open connections are capped per client and in all,
//! so a patient attacker holding sockets open cannot use up the server's files.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

/// A request head (or the next one on a kept-alive connection) arrives within this.
pub const HEAD_WITHIN: Duration = Duration::from_secs(10);

/// How many connections one client, and everyone, may hold open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caps {
    pub per_client: usize,
    pub total: usize,
}

impl Default for Caps {
    /// A browser opens 6 per site; a household or an office behind one address, a few
    /// dozen. The total stays under the open-file limit the server asks for.
    fn default() -> Self {
        Self {
            per_client: 128,
            total: 8192,
        }
    }
}

/// The connections open now, by client.
#[derive(Clone)]
pub struct Open {
    caps: Caps,
    /// Peers that are the site's own proxies: their connections carry many clients.
    proxies: Arc<[services::access::clients::IpNet]>,
    table: Arc<Mutex<(usize, HashMap<Network, usize>)>>,
}

/// A client (an IPv4 address, an IPv6 /64), or a wider network of clients (an IPv6
/// /56 or /48): the address, its prefix length.
type Network = (IpAddr, u8);

/// One open connection, counted until dropped.
pub struct Ticket {
    open: Open,
    counted: Vec<Network>,
}

impl Open {
    pub fn new(caps: Caps, proxies: Arc<[services::access::clients::IpNet]>) -> Self {
        Self {
            caps,
            proxies,
            table: Arc::default(),
        }
    }

    /// What a connection from `peer` counts against, and each one's cap in times the
    /// client's: an IPv4 address (1×); an IPv6 /64 (one household, 1×), its /56 (4×)
    /// and its /48 (16×), as the limits count them. Nothing for the site's proxies.
    fn networks(&self, peer: IpAddr) -> Vec<(Network, usize)> {
        if self.proxies.iter().any(|p| p.contains(&peer)) {
            return Vec::new();
        }
        match peer {
            IpAddr::V6(v6) => [(64u8, 1usize), (56, 4), (48, 16)]
                .into_iter()
                .map(|(prefix, times)| {
                    let net = services::access::clients::IpNet::new(IpAddr::V6(v6), prefix)
                        .expect("a valid prefix")
                        .trunc();
                    ((net.addr(), prefix), times)
                })
                .collect(),
            v4 => vec![((v4, 32), 1)],
        }
    }

    /// A place for a connection from `peer`, or `None` past a cap (it is closed).
    pub fn admit(&self, peer: IpAddr) -> Option<Ticket> {
        let networks = self.networks(peer);
        let mut table = self.table.lock().unwrap_or_else(|e| e.into_inner());
        let (total, counts) = &mut *table;
        if *total >= self.caps.total {
            return None;
        }
        let full = networks.iter().any(|(network, times)| {
            counts.get(network).copied().unwrap_or(0) >= self.caps.per_client * times
        });
        if full {
            return None;
        }
        for (network, _) in &networks {
            *counts.entry(*network).or_default() += 1;
        }
        *total += 1;
        Some(Ticket {
            open: self.clone(),
            counted: networks.into_iter().map(|(network, _)| network).collect(),
        })
    }

    /// Open connections now: in all, and of the busiest client.
    pub fn load(&self) -> (usize, usize) {
        let table = self.table.lock().unwrap_or_else(|e| e.into_inner());
        let clients = table.1.iter().filter(|((_, prefix), _)| *prefix >= 64);
        (table.0, clients.map(|(_, n)| *n).max().unwrap_or(0))
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut table = self.open.table.lock().unwrap_or_else(|e| e.into_inner());
        let (total, counts) = &mut *table;
        *total = total.saturating_sub(1);
        for network in &self.counted {
            if let Some(count) = counts.get_mut(network) {
                *count -= 1;
                if *count == 0 {
                    counts.remove(network);
                }
            }
        }
    }
}

/// Raises the process's open-file limit to its hard limit (where allowed), so the
/// total cap, not the system's default of 1,024, is what bounds connections. Returns
/// the limit in force.
pub fn raise_open_files() -> u64 {
    // SAFETY: getrlimit/setrlimit with a valid pointer to a local struct.
    unsafe {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 0;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit = raised;
            }
        }
        limit.rlim_cur
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_and_everyone_are_capped_and_places_come_back() {
        let open = Open::new(
            Caps {
                per_client: 2,
                total: 3,
            },
            Arc::from(vec![]),
        );
        let a: IpAddr = "203.0.113.1".parse().unwrap();
        let b: IpAddr = "203.0.113.2".parse().unwrap();
        let (one, two) = (open.admit(a).unwrap(), open.admit(a).unwrap());
        assert!(open.admit(a).is_none(), "a third from one client");
        let three = open.admit(b).unwrap();
        assert!(
            open.admit("203.0.113.3".parse().unwrap()).is_none(),
            "past the total"
        );
        drop(one);
        assert!(open.admit(a).is_some());
        drop((two, three));
        // One household's IPv6 addresses are one client.
        let open = Open::new(
            Caps {
                per_client: 1,
                total: 10,
            },
            Arc::from(vec![]),
        );
        let _first = open.admit("2001:db8:1:2::1".parse().unwrap()).unwrap();
        assert!(
            open.admit("2001:db8:1:2:ffff::9".parse().unwrap())
                .is_none()
        );
        assert!(open.admit("2001:db8:1:3::1".parse().unwrap()).is_some());
        // The /64s of one /56 hold four times a client's cap; a /48 sixteen times.
        let open = Open::new(
            Caps {
                per_client: 1,
                total: 100,
            },
            Arc::from(vec![]),
        );
        let held: Vec<_> = (0..8)
            .filter_map(|n| open.admit(format!("2001:db8:9:{n}::1").parse().unwrap()))
            .collect();
        assert_eq!(held.len(), 4);
        let wider: Vec<_> = (1..40)
            .filter_map(|n| open.admit(format!("2001:db8:9:{:x}::1", n * 256).parse().unwrap()))
            .collect();
        assert_eq!(held.len() + wider.len(), 16);
        assert!(open.admit("2001:db8:a::1".parse().unwrap()).is_some());
    }

    #[test]
    fn the_site_s_own_proxies_are_not_capped_as_one_client() {
        let proxy: services::access::clients::IpNet = "10.0.0.0/8".parse().unwrap();
        let open = Open::new(
            Caps {
                per_client: 1,
                total: 10,
            },
            Arc::from(vec![proxy]),
        );
        let from_proxy: Vec<_> = (0..5)
            .map(|_| open.admit("10.1.2.3".parse().unwrap()))
            .collect();
        assert!(from_proxy.iter().all(Option::is_some));
        assert_eq!(open.load().0, 5);
    }
}
