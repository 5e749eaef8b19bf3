//! Counting clients: the address a client is counted by, and how many of something (open
//! connections) each holds. The TCP server and the admin API limit what one client may hold
//! with these; the failed-authentication limit counts by the same key.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};

/// The address a client counts as: IPv4 as it is (also when mapped into IPv6), IPv6 by its
/// /64, which one host is commonly given whole (RFC 6177), so that one host cannot take a
/// limit per address it holds.
pub fn key(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(v6.to_bits() & !u128::from(u64::MAX))),
        },
    }
}

/// How many each client (by [`key`]) holds; a client holding none is forgotten, so the map
/// never outgrows what is held.
#[derive(Debug, Default)]
pub struct PerClient {
    held: HashMap<IpAddr, usize>,
}

impl PerClient {
    pub fn held(&self, client: IpAddr) -> usize {
        self.held.get(&client).copied().unwrap_or(0)
    }

    pub fn add(&mut self, client: IpAddr) {
        *self.held.entry(client).or_default() += 1;
    }

    pub fn remove(&mut self, client: IpAddr) {
        if let Some(count) = self.held.get_mut(&client) {
            *count -= 1;
            if *count == 0 {
                self.held.remove(&client);
            }
        }
    }

    /// Clients holding anything.
    pub fn clients(&self) -> usize {
        self.held.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv6_host_counts_as_its_64_and_mapped_ipv4_as_ipv4() {
        let k = |a: &str| key(a.parse().unwrap());
        assert_eq!(k("2001:db8:1:2::1"), k("2001:db8:1:2:ffff::9"));
        assert_ne!(k("2001:db8:1:2::1"), k("2001:db8:1:3::1"));
        assert_eq!(k("::ffff:192.0.2.1"), k("192.0.2.1"));
        assert_ne!(k("192.0.2.1"), k("192.0.2.2"));
    }

    #[test]
    fn a_client_holding_nothing_is_forgotten() {
        let (a, b): (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        let mut counts = PerClient::default();
        counts.add(a);
        counts.add(a);
        counts.add(b);
        assert_eq!((counts.held(a), counts.held(b), counts.clients()), (2, 1, 2));
        counts.remove(a);
        counts.remove(b);
        counts.remove(b); // more removes than adds change nothing
        assert_eq!((counts.held(a), counts.held(b), counts.clients()), (1, 0, 1));
    }
}
