//! Labels added to the incident so analysts can filter on the outcome.

use crate::pipeline::{AddressRecord, Status};
use crate::verdict::Verdict;

/// Prefix of every label this crate adds.
pub const PREFIX: &str = "IP reputation: ";

/// Builds the labels: the most severe verdict among the looked-up addresses, and
/// "IP reputation: incomplete" when any lookup failed.
pub fn build(records: &[AddressRecord]) -> Vec<String> {
    let mut labels = Vec::new();
    let worst = records
        .iter()
        .filter(|record| matches!(record.status, Status::Enriched | Status::Failed))
        .map(|record| record.verdict)
        .max()
        .filter(|verdict| *verdict != Verdict::Unknown);
    if let Some(verdict) = worst {
        labels.push(format!("{PREFIX}{verdict}"));
    }
    if records.iter().any(|record| record.status == Status::Failed) {
        labels.push(format!("{PREFIX}incomplete"));
    }
    labels
}
