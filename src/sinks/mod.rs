//! Sinks: what a run writes, and where.
//!
//! [`row`] builds the Log Analytics rows, [`comment`] the incident comment and [`labels`] the
//! incident labels; [`console`] prints a run for a person at a terminal.

pub mod azure;
pub mod comment;
pub mod console;
pub mod labels;
pub mod row;
