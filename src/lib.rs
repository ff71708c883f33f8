//! Enriches Microsoft Sentinel incidents with IP reputation.
//!
//! The pipeline has one module per stage:
//! [`trigger`] recognises the playbook trigger body, [`parse`] normalises and classifies the
//! addresses, [`lookup`] queries providers (VirusTotal, local feeds) through a shared cache,
//! [`verdict`] decides per address, and [`sinks`] builds the rows, comment and labels.
//! [`pipeline::Enricher`] runs them in order; the command line ([`cli`]) and the Azure Functions
//! custom handler ([`handler`]) both call it.

pub mod cli;
pub mod config;
pub mod handler;
pub mod http;
pub mod lookup;
pub mod parse;
pub mod pipeline;
pub mod secret;
pub mod sinks;
pub mod trigger;
pub mod verdict;
