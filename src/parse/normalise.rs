//! Normalisation of one address string into a canonical [`IpAddr`].
//!
//! Accepted: surrounding whitespace, an IPv4 port ("1.1.1.1:53"), a bracketed IPv6 address with
//! an optional port ("[::1]:443"), an IPv6 zone id ("fe80::1%eth0"), and IPv4-mapped IPv6
//! ("::ffff:8.8.8.8"), which becomes the IPv4 address. Rejected as ambiguous: leading zeros,
//! hexadecimal parts, fewer than four parts and bare integers, because `inet_aton` and browsers
//! read those differently from strict parsers. IPv6 output is in RFC 5952 form, which is what
//! `Ipv6Addr`'s `Display` writes.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::AddressError;

/// Parses one trimmed address string into its canonical address.
pub fn normalise(raw: &str) -> Result<IpAddr, AddressError> {
    let input = raw.trim();
    let host = strip_port_and_brackets(input)?;

    // A zone id names an interface on the host that logged the address; it is meaningless
    // elsewhere, so it is dropped. Only IPv6 carries one.
    let host = match host.split_once('%') {
        Some((address, _zone)) if address.contains(':') => address,
        Some(_) => return Err(not_an_address(input)),
        None => host,
    };

    if host.contains(':') {
        let ip: Ipv6Addr = host.parse().map_err(|_| not_an_address(input))?;
        return Ok(match ip.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(ip),
        });
    }
    parse_strict_ipv4(host, input).map(IpAddr::V4)
}

/// Removes "[...]" around an IPv6 address and a ":port" after either family.
fn strip_port_and_brackets(input: &str) -> Result<&str, AddressError> {
    if let Some(rest) = input.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(|| not_an_address(input))?;
        if !after.is_empty() {
            let port = after
                .strip_prefix(':')
                .ok_or_else(|| not_an_address(input))?;
            check_port(port, input)?;
        }
        return Ok(host);
    }

    // Exactly one colon after a dotted part is "IPv4:port". Two or more colons mean IPv6, whose
    // port is only unambiguous in brackets.
    if input.matches(':').count() == 1 {
        let (host, port) = input.split_once(':').unwrap_or((input, ""));
        if host.contains('.') {
            check_port(port, input)?;
            return Ok(host);
        }
        return Err(not_an_address(input));
    }
    Ok(input)
}

fn check_port(port: &str, input: &str) -> Result<(), AddressError> {
    let valid = !port.is_empty()
        && port.len() <= 5
        && port.bytes().all(|b| b.is_ascii_digit())
        && port.parse::<u32>().is_ok_and(|value| value <= 65_535);
    if valid {
        Ok(())
    } else {
        Err(AddressError::InvalidPort {
            input: input.to_string(),
        })
    }
}

/// Parses dotted-quad IPv4 with four decimal parts of 0..=255 and no leading zeros.
fn parse_strict_ipv4(host: &str, input: &str) -> Result<Ipv4Addr, AddressError> {
    let owned = || input.to_string();

    if !host.is_empty() && host.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AddressError::BareInteger { input: owned() });
    }
    if !host.contains('.') {
        return Err(not_an_address(input));
    }

    let parts: Vec<&str> = host.split('.').collect();
    let looks_hexadecimal = parts.iter().any(|part| {
        let lower = part.to_ascii_lowercase();
        lower.starts_with("0x") && lower.len() > 2
    });
    if looks_hexadecimal {
        return Err(AddressError::Hexadecimal { input: owned() });
    }
    if !parts
        .iter()
        .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(not_an_address(input));
    }
    if parts.len() != 4 {
        return Err(AddressError::WrongPartCount { input: owned() });
    }
    if parts
        .iter()
        .any(|part| part.len() > 1 && part.starts_with('0'))
    {
        return Err(AddressError::LeadingZero { input: owned() });
    }

    let mut octets = [0u8; 4];
    for (octet, part) in octets.iter_mut().zip(&parts) {
        *octet = part
            .parse::<u8>()
            .map_err(|_| AddressError::OutOfRange { input: owned() })?;
    }
    Ok(Ipv4Addr::from(octets))
}

fn not_an_address(input: &str) -> AddressError {
    AddressError::NotAnAddress {
        input: input.to_string(),
    }
}
