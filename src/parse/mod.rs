//! Parse stage: turns the address strings found in entities into canonical addresses.
//!
//! One entity field can hold several addresses ("10.0.0.1,8.8.8.8"), a port ("1.1.1.1:53"),
//! brackets ("[2606:4700::1]:443") or an IPv6 zone id ("fe80::1%eth0"). This module splits and
//! normalises those spellings, rejects ambiguous ones, and classifies each address as globally
//! reachable or not (see [`classify`]). It performs no lookups.

mod classify;
mod normalise;

pub use classify::{SkipReason, classify};
pub use normalise::normalise;

use std::net::IpAddr;

use serde::Serialize;

/// Outcome of the parse stage for one address occurrence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// A globally reachable address, in canonical form, that providers may look up.
    Lookup(IpAddr),
    /// An address that is not globally reachable and never leaves the tenant.
    Skip(IpAddr, SkipReason),
    /// A string that is not an unambiguous IP address.
    Invalid(AddressError),
}

/// One address as found in an entity, after splitting a comma-separated field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occurrence {
    /// The text as found, trimmed of surrounding whitespace.
    pub input: String,
    pub parsed: Parsed,
}

impl Occurrence {
    /// Canonical address, when the input parsed as one.
    pub fn ip(&self) -> Option<IpAddr> {
        match self.parsed {
            Parsed::Lookup(ip) | Parsed::Skip(ip, _) => Some(ip),
            Parsed::Invalid(_) => None,
        }
    }
}

/// Error of the parse stage. Every variant carries the offending input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "error", rename_all = "snake_case")]
pub enum AddressError {
    /// Occurs when an IPv4 part has a leading zero, which some parsers read as octal.
    #[error(
        "invalid address {input:?}: leading zero in an IPv4 part is ambiguous (octal or decimal)"
    )]
    LeadingZero { input: String },
    /// Occurs when a dotted address has fewer or more than four parts.
    #[error("invalid address {input:?}: an IPv4 address needs exactly four dotted parts")]
    WrongPartCount { input: String },
    /// Occurs when an IPv4 part is written in hexadecimal.
    #[error("invalid address {input:?}: hexadecimal IPv4 parts are ambiguous")]
    Hexadecimal { input: String },
    /// Occurs when the input is a bare integer such as "134744072".
    #[error("invalid address {input:?}: a bare integer is not accepted as an IPv4 address")]
    BareInteger { input: String },
    /// Occurs when an IPv4 part is above 255.
    #[error("invalid address {input:?}: an IPv4 part is above 255")]
    OutOfRange { input: String },
    /// Occurs when a port after the address is not a number from 0 to 65535.
    #[error("invalid address {input:?}: the port is not a number from 0 to 65535")]
    InvalidPort { input: String },
    /// Occurs when the input is not an IP address in any accepted spelling.
    #[error("invalid address {input:?}: not an IPv4 or IPv6 address")]
    NotAnAddress { input: String },
}

impl AddressError {
    /// Returns the input that failed to parse.
    pub fn input(&self) -> &str {
        match self {
            AddressError::LeadingZero { input }
            | AddressError::WrongPartCount { input }
            | AddressError::Hexadecimal { input }
            | AddressError::BareInteger { input }
            | AddressError::OutOfRange { input }
            | AddressError::InvalidPort { input }
            | AddressError::NotAnAddress { input } => input,
        }
    }
}

/// Splits an entity field into address occurrences and parses each one.
///
/// Empty pieces (an empty field, or ",," in a list) are not addresses and are dropped.
pub fn parse_field(field: &str) -> Vec<Occurrence> {
    field
        .split(',')
        .map(str::trim)
        .filter(|piece| !piece.is_empty())
        .map(|piece| Occurrence {
            input: piece.to_string(),
            parsed: parse_one(piece),
        })
        .collect()
}

/// Normalises and classifies one address string that contains no comma.
pub fn parse_one(input: &str) -> Parsed {
    match normalise(input) {
        Ok(ip) => match classify(ip) {
            None => Parsed::Lookup(ip),
            Some(reason) => Parsed::Skip(ip, reason),
        },
        Err(error) => Parsed::Invalid(error),
    }
}
