//! CIDR overrides: subnets an operator maps to a region by hand. They win over the database.

use std::net::IpAddr;

use ipnet::IpNet;

/// Subnets and what they map to, longest prefix first.
#[derive(Debug, Clone, Default)]
pub struct Overrides<T> {
    entries: Vec<(IpNet, T)>,
}

impl<T: Copy> Overrides<T> {
    /// Builds the map; the longest matching prefix wins, as in routing.
    pub fn new(mut entries: Vec<(IpNet, T)>) -> Self {
        entries.sort_by_key(|(net, _)| std::cmp::Reverse(net.prefix_len()));
        Self { entries }
    }

    /// The value of the most specific subnet holding `addr`, with that subnet's prefix length.
    /// A linear scan: pools carry a handful of overrides, and this allocates nothing.
    pub fn find(&self, addr: IpAddr) -> Option<(T, u8)> {
        self.entries.iter().find(|(net, _)| net.contains(&addr)).map(|(net, v)| (*v, net.prefix_len()))
    }

    /// The shortest prefix around `addr` that overlaps no subnet of the map that does not hold
    /// `addr`: an answer for `addr` holds for that prefix only, or it would also cover clients
    /// an override sends elsewhere. 0 when no such subnet is in `addr`'s family.
    pub fn separation(&self, addr: IpAddr) -> u8 {
        self.entries
            .iter()
            .filter(|(net, _)| !net.contains(&addr))
            .filter_map(|(net, _)| common_prefix(addr, net.addr()).map(|common| common + 1))
            .max()
            .unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Leading bits two addresses of one family share.
fn common_prefix(a: IpAddr, b: IpAddr) -> Option<u8> {
    match (a, b) {
        (IpAddr::V4(a), IpAddr::V4(b)) => Some((u32::from(a) ^ u32::from(b)).leading_zeros().min(32) as u8),
        (IpAddr::V6(a), IpAddr::V6(b)) => Some((u128::from(a) ^ u128::from(b)).leading_zeros().min(128) as u8),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_prefix_wins() {
        let map = Overrides::new(vec![
            ("198.51.0.0/16".parse().unwrap(), 1),
            ("198.51.100.0/24".parse().unwrap(), 2),
            ("2001:db8::/32".parse().unwrap(), 3),
        ]);
        assert_eq!(map.find("198.51.100.7".parse().unwrap()), Some((2, 24)));
        assert_eq!(map.find("198.51.7.7".parse().unwrap()), Some((1, 16)));
        assert_eq!(map.find("2001:db8::1".parse().unwrap()), Some((3, 32)));
        assert_eq!(map.find("192.0.2.1".parse().unwrap()), None);
    }

    #[test]
    fn a_clients_separation_is_the_prefix_that_keeps_its_answer_clear_of_every_other_override() {
        let map =
            Overrides::new(vec![("198.51.100.128/25".parse().unwrap(), 1), ("2001:db8::/32".parse().unwrap(), 2)]);
        // 198.51.100.5 shares 24 bits with the override: its answer holds for its /25 only.
        assert_eq!(map.separation("198.51.100.5".parse().unwrap()), 25);
        // Inside the override, nothing else to keep away from.
        assert_eq!(map.separation("198.51.100.200".parse().unwrap()), 0);
        // 192 and 198 share their first 5 bits: /6 stays clear of the override.
        assert_eq!(map.separation("192.0.2.1".parse().unwrap()), 6);
        assert_eq!(map.separation("2001:db9::1".parse().unwrap()), 32);
    }
}
