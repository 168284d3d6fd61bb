//! Address pools: what an admin defines and how a pool is cut into the
//! addresses and prefixes given to lines.
//!
//! A pool is numbered from 0: the n-th IPv4 host address, or the n-th
//! delegated prefix of the pool's assignment length. Storage keeps only the
//! number, under a unique constraint per pool, so two lines can never hold
//! the same address whatever the backend's locking.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnetwork::{IpNetwork, Ipv4Network, Ipv6Network};
use serde::{Deserialize, Serialize};

/// What a pool is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PoolKind {
    /// Public IPv4 addresses, one per line.
    PublicV4,
    /// Shared address space behind carrier-grade NAT (RFC 6598,
    /// 100.64.0.0/10), one per line.
    CgnatV4,
    /// IPv6 prefixes delegated to the subscriber's router (DHCPv6-PD),
    /// nibble-aligned, /56 by default.
    DelegatedV6,
    /// IPv6 /64 of the link between BNG and subscriber router.
    WanV6,
}

impl PoolKind {
    pub const ALL: [PoolKind; 4] = [
        PoolKind::PublicV4,
        PoolKind::CgnatV4,
        PoolKind::DelegatedV6,
        PoolKind::WanV6,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PoolKind::PublicV4 => "public_v4",
            PoolKind::CgnatV4 => "cgnat_v4",
            PoolKind::DelegatedV6 => "delegated_v6",
            PoolKind::WanV6 => "wan_v6",
        }
    }

    pub fn parse(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s.trim())
            .ok_or_else(|| {
                format!(
                    "type de pool « {} » inconnu ; attendu : public_v4, cgnat_v4, delegated_v6 ou wan_v6",
                    s.trim()
                )
            })
    }

    pub fn label(self) -> &'static str {
        match self {
            PoolKind::PublicV4 => "IPv4 publique",
            PoolKind::CgnatV4 => "IPv4 CGNAT",
            PoolKind::DelegatedV6 => "préfixes IPv6 délégués",
            PoolKind::WanV6 => "IPv6 WAN /64",
        }
    }

    fn is_v4(self) -> bool {
        matches!(self, PoolKind::PublicV4 | PoolKind::CgnatV4)
    }
}

/// Whether an address is in the shared address space of RFC 6598
/// (100.64.0.0/10).
fn in_cgnat_space(a: Ipv4Addr) -> bool {
    let [first, second, ..] = a.octets();
    first == 100 && (64..128).contains(&second)
}

/// The most numbers a pool may hold, so that a number always fits a
/// 64-bit column with room to spare.
const MAX_POOL_BITS: u8 = 40;

/// A checked pool definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pool {
    pub name: String,
    pub kind: PoolKind,
    pub network: IpNetwork,
    /// Length of what each line receives: 32 for IPv4, 56 (or another
    /// multiple of 4) for delegated prefixes, 64 for WAN prefixes.
    pub assign_len: u8,
}

impl Pool {
    /// Checks a pool as an admin enters it. `assign_len` is only read for
    /// delegated prefixes (default 56).
    pub fn parse(
        name: &str,
        kind: PoolKind,
        network: &str,
        assign_len: Option<u8>,
    ) -> Result<Self, String> {
        let name = name.trim();
        if name.is_empty()
            || name.len() > 40
            || !name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        {
            return Err(format!(
                "nom de pool « {name} » invalide : 1 à 40 caractères parmi a-z, 0-9, - et _"
            ));
        }
        let net: IpNetwork = network.trim().parse().map_err(|_| {
            format!(
                "« {} » n'est pas un réseau (ex. 100.64.0.0/16, 2001:db8::/40)",
                network.trim()
            )
        })?;
        if net.network() != net.ip() {
            return Err(format!(
                "« {} » a des bits d'hôte : le réseau est {}/{}",
                network.trim(),
                net.network(),
                net.prefix()
            ));
        }
        let assign_len = match (kind, net) {
            (k, IpNetwork::V4(v4)) if k.is_v4() => {
                if k == PoolKind::CgnatV4 && !(in_cgnat_space(v4.network()) && v4.prefix() >= 10) {
                    return Err(format!(
                        "un pool CGNAT doit être dans 100.64.0.0/10 ; {net} n'y est pas"
                    ));
                }
                if k == PoolKind::PublicV4 {
                    let a = v4.network();
                    if a.is_private()
                        || a.is_loopback()
                        || a.is_link_local()
                        || in_cgnat_space(a)
                        || a.is_unspecified()
                    {
                        return Err(format!("{net} n'est pas un espace d'adresses publiques"));
                    }
                }
                if 32 - v4.prefix() > MAX_POOL_BITS || v4.prefix() > 30 {
                    return Err(format!("un pool IPv4 va de /8 à /30 ; {net} n'en est pas"));
                }
                32
            }
            (PoolKind::DelegatedV6, IpNetwork::V6(v6)) => {
                let len = assign_len.unwrap_or(56);
                if !len.is_multiple_of(4) || len > 64 || len <= v6.prefix() {
                    return Err(format!(
                        "les préfixes délégués doivent être plus longs que {net}, sur une frontière de quartet (multiple de 4) et au plus /64 ; /{len} ne l'est pas"
                    ));
                }
                if len - v6.prefix() > MAX_POOL_BITS {
                    return Err(format!(
                        "{net} découpé en /{len} dépasse 2^{MAX_POOL_BITS} préfixes"
                    ));
                }
                len
            }
            (PoolKind::WanV6, IpNetwork::V6(v6)) => {
                if v6.prefix() >= 64 || 64 - v6.prefix() > MAX_POOL_BITS {
                    return Err(format!(
                        "un pool WAN se découpe en /64 : il va de /24 à /63 ; {net} n'en est pas"
                    ));
                }
                64
            }
            _ => {
                return Err(format!(
                    "{net} n'est pas de la bonne famille pour un pool {}",
                    kind.label()
                ))
            }
        };
        Ok(Self {
            name: name.to_owned(),
            kind,
            network: net,
            assign_len,
        })
    }

    /// How many addresses or prefixes the pool gives.
    pub fn size(&self) -> i64 {
        match self.network {
            // The network and broadcast addresses are never given out.
            IpNetwork::V4(n) => (1i64 << (32 - n.prefix())) - 2,
            IpNetwork::V6(n) => 1i64 << (self.assign_len - n.prefix()),
        }
    }

    /// The `n`-th address or prefix of the pool.
    pub fn nth(&self, n: i64) -> Option<IpNetwork> {
        if n < 0 || n >= self.size() {
            return None;
        }
        Some(match self.network {
            IpNetwork::V4(net) => {
                let base = u32::from(net.network());
                let ip = Ipv4Addr::from(base + 1 + n as u32);
                IpNetwork::V4(Ipv4Network::new(ip, 32).ok()?)
            }
            IpNetwork::V6(net) => {
                let base = u128::from(net.network());
                let ip = Ipv6Addr::from(base + ((n as u128) << (128 - u32::from(self.assign_len))));
                IpNetwork::V6(Ipv6Network::new(ip, self.assign_len).ok()?)
            }
        })
    }

    /// Whether two pools share any address.
    pub fn overlaps(&self, other: &Pool) -> bool {
        match (self.network, other.network) {
            (IpNetwork::V4(a), IpNetwork::V4(b)) => {
                a.contains(b.network()) || b.contains(a.network())
            }
            (IpNetwork::V6(a), IpNetwork::V6(b)) => {
                a.contains(b.network()) || b.contains(a.network())
            }
            _ => false,
        }
    }
}

/// The first and last address of a network as fixed-width lowercase hex
/// (8 digits for IPv4, 32 for IPv6), whose text order is address order: the
/// assignment journal is searched with plain comparisons on both backends.
pub fn hex_range(net: &IpNetwork) -> (String, String) {
    match net {
        IpNetwork::V4(n) => (
            format!("{:08x}", u32::from(n.network())),
            format!("{:08x}", u32::from(n.broadcast())),
        ),
        IpNetwork::V6(n) => {
            let first = u128::from(n.network());
            let host_bits = 128 - u32::from(n.prefix());
            let last = if host_bits == 128 {
                u128::MAX
            } else {
                first | ((1u128 << host_bits) - 1)
            };
            (format!("{first:032x}"), format!("{last:032x}"))
        }
    }
}

/// An address as the journal stores it: family (4 or 6) and hex.
pub fn hex_address(ip: IpAddr) -> (i64, String) {
    match ip {
        IpAddr::V4(a) => (4, format!("{:08x}", u32::from(a))),
        IpAddr::V6(a) => (6, format!("{:032x}", u128::from(a))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pool(kind: PoolKind, net: &str) -> Result<Pool, String> {
        Pool::parse("p", kind, net, None)
    }

    #[test]
    fn ipv4_pools_skip_network_and_broadcast() {
        let p = pool(PoolKind::CgnatV4, "100.64.0.0/30").unwrap();
        assert_eq!(p.size(), 2);
        assert_eq!(p.nth(0).unwrap().to_string(), "100.64.0.1/32");
        assert_eq!(p.nth(1).unwrap().to_string(), "100.64.0.2/32");
        assert_eq!(p.nth(2), None);
    }

    #[test]
    fn delegated_prefixes_are_nibble_aligned() {
        let p = pool(PoolKind::DelegatedV6, "2001:db8::/40").unwrap();
        assert_eq!(p.size(), 65536);
        assert_eq!(p.nth(0).unwrap().to_string(), "2001:db8::/56");
        assert_eq!(p.nth(1).unwrap().to_string(), "2001:db8:0:100::/56");
        assert_eq!(p.nth(65535).unwrap().to_string(), "2001:db8:ff:ff00::/56");
        let e = Pool::parse("p", PoolKind::DelegatedV6, "2001:db8::/40", Some(58)).unwrap_err();
        assert!(e.contains("quartet"), "{e}");
        let e = Pool::parse("p", PoolKind::DelegatedV6, "2001:db8::/56", Some(56)).unwrap_err();
        assert!(e.contains("plus longs"), "{e}");
    }

    #[test]
    fn wan_pools_give_slash_64s() {
        let p = pool(PoolKind::WanV6, "2001:db8:8000::/48").unwrap();
        assert_eq!(p.assign_len, 64);
        assert_eq!(p.nth(3).unwrap().to_string(), "2001:db8:8000:3::/64");
    }

    #[test]
    fn bad_pools_are_refused_with_the_reason() {
        let cases = [
            (PoolKind::CgnatV4, "10.0.0.0/16", "100.64.0.0/10"),
            (PoolKind::CgnatV4, "100.0.0.0/8", "100.64.0.0/10"),
            (PoolKind::PublicV4, "100.64.0.0/16", "publiques"),
            (PoolKind::PublicV4, "192.168.0.0/24", "publiques"),
            (PoolKind::PublicV4, "192.0.2.5/24", "192.0.2.0/24"),
            (PoolKind::PublicV4, "2001:db8::/40", "famille"),
            (PoolKind::WanV6, "2001:db8::/64", "/64"),
            (PoolKind::PublicV4, "n'importe quoi", "n'est pas un réseau"),
        ];
        for (kind, net, expected) in cases {
            let e = pool(kind, net).unwrap_err();
            assert!(e.contains(expected), "{net}: {e}");
        }
        assert!(
            Pool::parse("Pool Public", PoolKind::PublicV4, "192.0.2.0/24", None)
                .unwrap_err()
                .contains("nom de pool")
        );
    }

    #[test]
    fn overlap_is_containment_either_way() {
        let a = pool(PoolKind::CgnatV4, "100.64.0.0/16").unwrap();
        let b = pool(PoolKind::CgnatV4, "100.64.128.0/24").unwrap();
        let c = pool(PoolKind::CgnatV4, "100.65.0.0/16").unwrap();
        let v6 = pool(PoolKind::WanV6, "2001:db8::/48").unwrap();
        assert!(a.overlaps(&b) && b.overlaps(&a));
        assert!(!a.overlaps(&c));
        assert!(!a.overlaps(&v6));
    }

    #[test]
    fn hex_ranges_order_like_addresses() {
        let net: IpNetwork = "2001:db8:0:100::/56".parse().unwrap();
        let (first, last) = hex_range(&net);
        assert_eq!(first, "20010db8000001000000000000000000");
        assert_eq!(last, "20010db8000001ffffffffffffffffff");
        let (_, inside) = hex_address("2001:db8:0:1ab::1".parse().unwrap());
        assert!(first <= inside && inside <= last);
        let (fam, v4) = hex_address("100.64.0.1".parse().unwrap());
        assert_eq!((fam, v4.as_str()), (4, "64400001"));
    }

    proptest! {
        #[test]
        fn every_number_lies_inside_its_pool(bits in 8u8..=30, n in 0i64..1_000_000) {
            let p = pool(PoolKind::CgnatV4, &format!("100.64.0.0/{}", bits.max(10))).unwrap();
            if let Some(addr) = p.nth(n % p.size()) {
                prop_assert!(p.network.contains(addr.ip()));
                prop_assert_ne!(addr.ip(), p.network.network());
                prop_assert_ne!(addr.ip(), p.network.broadcast());
            }
        }

        #[test]
        fn prefixes_never_overlap_each_other(a in 0i64..65536, b in 0i64..65536) {
            let p = pool(PoolKind::DelegatedV6, "2001:db8::/40").unwrap();
            let (x, y) = (p.nth(a).unwrap(), p.nth(b).unwrap());
            prop_assert_eq!(a == b, x.contains(y.ip()));
        }
    }
}
