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
        self.entries
            .iter()
            .find(|(net, _)| net.contains(&addr))
            .map(|(net, v)| (*v, net.prefix_len()))
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
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
}
