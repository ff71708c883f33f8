//! Classification of canonical addresses by the IANA special-purpose address registries.
//!
//! Sources: the IANA IPv4 Special-Purpose Address Registry and the IANA IPv6 Special-Purpose
//! Address Registry (both as updated in 2024), column "Globally Reachable", plus multicast
//! (224.0.0.0/4, ff00::/8) and, for IPv6, everything outside 2000::/3, which IANA has not
//! allocated for global unicast. The most specific matching block wins, so the globally reachable
//! exceptions inside 192.0.0.0/24 and 2001::/23 stay reachable.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::LazyLock;

use ipnet::{Ipv4Net, Ipv6Net};
use serde::Serialize;

/// Reason an address is not looked up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SkipReason {
    Private,
    Shared,
    Loopback,
    LinkLocal,
    Documentation,
    Benchmarking,
    Reserved,
    Multicast,
    Broadcast,
    Unspecified,
    UniqueLocal,
}

impl SkipReason {
    /// Lower-case name used in output, rows and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::Private => "private",
            SkipReason::Shared => "shared",
            SkipReason::Loopback => "loopback",
            SkipReason::LinkLocal => "link-local",
            SkipReason::Documentation => "documentation",
            SkipReason::Benchmarking => "benchmarking",
            SkipReason::Reserved => "reserved",
            SkipReason::Multicast => "multicast",
            SkipReason::Broadcast => "broadcast",
            SkipReason::Unspecified => "unspecified",
            SkipReason::UniqueLocal => "unique-local",
        }
    }
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A registry block: `None` marks a globally reachable exception inside a larger block.
type Block<N> = (N, Option<SkipReason>);

static IPV4_BLOCKS: LazyLock<Vec<Block<Ipv4Net>>> = LazyLock::new(|| {
    use SkipReason::*;
    [
        ("0.0.0.0/8", Some(Reserved)), // "this network"
        ("0.0.0.0/32", Some(Unspecified)),
        ("10.0.0.0/8", Some(Private)),
        ("100.64.0.0/10", Some(Shared)),
        ("127.0.0.0/8", Some(Loopback)),
        ("169.254.0.0/16", Some(LinkLocal)),
        ("172.16.0.0/12", Some(Private)),
        ("192.0.0.0/24", Some(Reserved)), // IETF protocol assignments
        ("192.0.0.9/32", None),           // Port Control Protocol anycast
        ("192.0.0.10/32", None),          // Traversal Using Relays around NAT anycast
        ("192.0.2.0/24", Some(Documentation)),
        ("192.88.99.0/24", Some(Reserved)), // deprecated 6to4 relay anycast
        ("192.168.0.0/16", Some(Private)),
        ("198.18.0.0/15", Some(Benchmarking)),
        ("198.51.100.0/24", Some(Documentation)),
        ("203.0.113.0/24", Some(Documentation)),
        ("224.0.0.0/4", Some(Multicast)),
        ("240.0.0.0/4", Some(Reserved)),
        ("255.255.255.255/32", Some(Broadcast)),
    ]
    .into_iter()
    .map(|(block, reason)| (block.parse().expect("valid IPv4 block"), reason))
    .collect()
});

static IPV6_BLOCKS: LazyLock<Vec<Block<Ipv6Net>>> = LazyLock::new(|| {
    use SkipReason::*;
    [
        // Everything outside 2000::/3 is unallocated or special; the entries below refine it.
        ("::/0", Some(Reserved)),
        ("2000::/3", None),
        ("::/128", Some(Unspecified)),
        ("::1/128", Some(Loopback)),
        ("64:ff9b:1::/48", Some(Reserved)), // local-use IPv4/IPv6 translation
        ("100::/64", Some(Reserved)),       // discard-only
        ("100:0:0:1::/64", Some(Reserved)), // dummy prefix
        ("2001::/23", Some(Reserved)),      // IETF protocol assignments
        ("2001::/32", None),                // Teredo
        ("2001:1::1/128", None),            // Port Control Protocol anycast
        ("2001:1::2/128", None),            // TURN anycast
        ("2001:1::3/128", None),            // DNS-SD service registration protocol anycast
        ("2001:2::/48", Some(Benchmarking)),
        ("2001:3::/32", None),     // AMT
        ("2001:4:112::/48", None), // AS112-v6
        ("2001:20::/28", None),    // ORCHIDv2
        ("2001:30::/28", None),    // drone remote ID
        ("2001:db8::/32", Some(Documentation)),
        ("3fff::/20", Some(Documentation)),
        ("5f00::/16", Some(Reserved)), // segment routing SIDs
        ("fc00::/7", Some(UniqueLocal)),
        ("fe80::/10", Some(LinkLocal)),
        ("ff00::/8", Some(Multicast)),
    ]
    .into_iter()
    .map(|(block, reason)| (block.parse().expect("valid IPv6 block"), reason))
    .collect()
});

/// Classifies a canonical address: `None` when it is globally reachable, otherwise the reason
/// it must not leave the tenant.
///
/// Callers pass addresses from [`super::normalise`], so IPv4-mapped IPv6 is already IPv4.
pub fn classify(ip: IpAddr) -> Option<SkipReason> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<SkipReason> {
    most_specific(IPV4_BLOCKS.iter().filter(|(block, _)| block.contains(&ip)))
}

fn classify_v6(ip: Ipv6Addr) -> Option<SkipReason> {
    // Translation prefixes carry an IPv4 address, and RFC 6052 and RFC 3056 forbid them for
    // non-global IPv4, so the embedded address decides: 64:ff9b::/96 carries it in the last 32
    // bits, 6to4 (2002::/16) in bits 16 to 47.
    let segments = ip.segments();
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return classify_v4(embedded_v4(segments[6], segments[7]));
    }
    if segments[0] == 0x2002 {
        return classify_v4(embedded_v4(segments[1], segments[2]));
    }
    // ::ffff:0:0/96 never reaches here from the parser, but a caller may pass one directly.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    most_specific(IPV6_BLOCKS.iter().filter(|(block, _)| block.contains(&ip)))
}

fn embedded_v4(high: u16, low: u16) -> Ipv4Addr {
    Ipv4Addr::from((u32::from(high) << 16) | u32::from(low))
}

/// Picks the reason of the longest matching prefix; `None` when no block matches.
fn most_specific<'a, N, I>(matches: I) -> Option<SkipReason>
where
    N: PrefixLength + 'a,
    I: Iterator<Item = &'a Block<N>>,
{
    matches
        .max_by_key(|(block, _)| block.length())
        .and_then(|(_, reason)| *reason)
}

trait PrefixLength {
    fn length(&self) -> u8;
}

impl PrefixLength for Ipv4Net {
    fn length(&self) -> u8 {
        self.prefix_len()
    }
}

impl PrefixLength for Ipv6Net {
    fn length(&self) -> u8 {
        self.prefix_len()
    }
}
