//! A run rendered as text for a person at a terminal.

use std::fmt::Write;

use crate::pipeline::{Enrichment, Status};

/// Renders the run: the incident, one line per address, the labels and the counts.
pub fn render(enrichment: &Enrichment) -> String {
    let mut out = String::new();
    match &enrichment.incident {
        Some(incident) => {
            let number = incident
                .number
                .map(|number| format!(" #{number}"))
                .unwrap_or_default();
            let title = incident.title.as_deref().unwrap_or("");
            let _ = writeln!(out, "Incident{number}: {title}\n  {}", incident.id);
        }
        None => {
            let _ = writeln!(out, "No incident ({:?} trigger)", enrichment.trigger);
        }
    }

    if enrichment.ips.is_empty() {
        let _ = writeln!(out, "\nNo IP entities found.");
    } else {
        let _ = writeln!(
            out,
            "\n{:<40} {:<10} {:<11} reason",
            "address", "status", "verdict"
        );
    }
    for record in &enrichment.ips {
        let address = match record.ip {
            Some(ip) if ip.to_string() == record.input => ip.to_string(),
            Some(ip) => format!("{ip} (from {:?})", record.input),
            None => format!("{:?}", record.input),
        };
        let verdict = match record.status {
            Status::Enriched | Status::Failed => record.verdict.as_str(),
            _ => "-",
        };
        let _ = writeln!(
            out,
            "{:<40} {:<10} {:<11} {}",
            address,
            record.status.as_str(),
            verdict,
            record.reason
        );
    }

    let _ = writeln!(
        out,
        "\nAddresses: {} ({})",
        enrichment.summary.addresses,
        enrichment.summary.status_counts()
    );
    let labels = if enrichment.labels.is_empty() {
        "none".to_string()
    } else {
        enrichment.labels.join(", ")
    };
    let _ = writeln!(out, "Labels: {labels}");
    let _ = writeln!(
        out,
        "Rows for Log Analytics: {}; comment: {} characters",
        enrichment.rows.len(),
        enrichment.comment.chars().count()
    );
    out
}
