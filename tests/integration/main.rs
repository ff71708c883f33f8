//! Integration tests, one module per pipeline stage or interface.

mod cli;
mod common;
mod handler;
mod host;
mod ip_forms;
mod report;
mod triggers;
mod virustotal;
