//! Verdict stage: turns every provider's finding for one address into one verdict.
//!
//! Engine counts (`last_analysis_stats`) and the community `reputation` are judged separately,
//! and the verdict records which of them, or which feed, decided it. The most severe verdict of
//! all providers wins. The lookup status (enriched, not found, failed) is kept apart from the
//! verdict: a failed lookup can still carry a verdict from another provider.

use serde::Serialize;

use crate::lookup::{Finding, ProviderResult, Report};

/// Severity of an address, from least to most severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Unknown,
    Harmless,
    Suspicious,
    Malicious,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Unknown => "unknown",
            Verdict::Harmless => "harmless",
            Verdict::Suspicious => "suspicious",
            Verdict::Malicious => "malicious",
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Source of the data that decided a verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// Engine detections in the last analysis.
    Engines,
    /// The community reputation score.
    Community,
    /// A match in a local feed.
    Feed,
    /// The legacy template rule: reputation below 0 is malicious, otherwise harmless.
    TemplateReputation,
    /// No provider returned data that decides anything.
    None,
}

impl Basis {
    pub fn as_str(self) -> &'static str {
        match self {
            Basis::Engines => "engines",
            Basis::Community => "community",
            Basis::Feed => "feed",
            Basis::TemplateReputation => "template_reputation",
            Basis::None => "none",
        }
    }
}

/// Which rule set decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VerdictMode {
    /// Engine counts and reputation judged separately with the thresholds below.
    #[default]
    Engines,
    /// The "IP Enrichment - Virus Total report" template's rule: reputation below 0 means
    /// malicious, anything else harmless. Engine counts are ignored.
    Template,
}

/// Thresholds of the verdict rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct VerdictPolicy {
    pub mode: VerdictMode,
    /// Engines that must report "malicious" for a malicious verdict. Default 3.
    pub malicious_engines: u32,
    /// Engines reporting "malicious" or "suspicious" for a suspicious verdict. Default 1.
    pub suspicious_engines: u32,
    /// Community reputation at or below which an address is suspicious. Default -10.
    /// Votes alone never make an address malicious, because anyone can vote.
    pub suspicious_reputation: i64,
}

impl Default for VerdictPolicy {
    fn default() -> Self {
        Self {
            mode: VerdictMode::Engines,
            malicious_engines: 3,
            suspicious_engines: 1,
            suspicious_reputation: -10,
        }
    }
}

/// A verdict with what decided it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub verdict: Verdict,
    pub basis: Basis,
    /// The provider whose data decided, if any.
    pub provider: Option<&'static str>,
    /// One sentence an analyst can read, such as "5 engines report malicious (threshold 3)".
    pub reason: String,
}

impl Decision {
    fn undecided(reason: &str) -> Self {
        Self {
            verdict: Verdict::Unknown,
            basis: Basis::None,
            provider: None,
            reason: reason.to_string(),
        }
    }
}

impl VerdictPolicy {
    /// Decides the verdict for one address from all provider results.
    pub fn decide(&self, results: &[ProviderResult]) -> Decision {
        let mut best = Decision::undecided("no provider has data on this address");
        for result in results {
            let Ok(Finding::Found(report)) = &result.outcome else {
                continue;
            };
            let decision = self.decide_report(result.provider, report);
            if decision.verdict > best.verdict
                || best.basis == Basis::None && decision.basis != Basis::None
            {
                best = decision;
            }
        }
        best
    }

    fn decide_report(&self, provider: &'static str, report: &Report) -> Decision {
        let decided = |verdict, basis, reason: String| Decision {
            verdict,
            basis,
            provider: Some(provider),
            reason,
        };

        if let Some(found) = &report.feed_match {
            let mut reason = format!("listed in {} as {}", found.feed, found.prefix);
            if let Some(description) = &found.description {
                reason.push_str(&format!(" ({description})"));
            }
            return decided(Verdict::Malicious, Basis::Feed, reason);
        }

        if self.mode == VerdictMode::Template {
            return match report.reputation {
                Some(score) if score < 0 => decided(
                    Verdict::Malicious,
                    Basis::TemplateReputation,
                    format!("community reputation {score} is below 0"),
                ),
                Some(score) => decided(
                    Verdict::Harmless,
                    Basis::TemplateReputation,
                    format!("community reputation {score} is 0 or above"),
                ),
                None => Decision::undecided("no reputation score"),
            };
        }

        let stats = report.stats.unwrap_or_default();
        let flagged = stats.malicious + stats.suspicious;
        if stats.malicious >= self.malicious_engines.max(1) {
            return decided(
                Verdict::Malicious,
                Basis::Engines,
                format!(
                    "{} engines report malicious (threshold {})",
                    stats.malicious, self.malicious_engines
                ),
            );
        }
        if flagged >= self.suspicious_engines.max(1) {
            return decided(
                Verdict::Suspicious,
                Basis::Engines,
                format!(
                    "{} engines report malicious and {} suspicious (threshold {})",
                    stats.malicious, stats.suspicious, self.suspicious_engines
                ),
            );
        }
        if let Some(score) = report.reputation
            && score <= self.suspicious_reputation
        {
            return decided(
                Verdict::Suspicious,
                Basis::Community,
                format!(
                    "community reputation {score} is at or below {}",
                    self.suspicious_reputation
                ),
            );
        }
        if stats.harmless > 0 {
            return decided(
                Verdict::Harmless,
                Basis::Engines,
                format!(
                    "no engine reports malicious or suspicious; {} report harmless",
                    stats.harmless
                ),
            );
        }
        Decision::undecided("no engine has analysed this address")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lookup::{EngineStats, FeedMatch, LookupError};

    fn vt(
        reputation: Option<i64>,
        malicious: u32,
        suspicious: u32,
        harmless: u32,
    ) -> ProviderResult {
        ProviderResult {
            provider: "virustotal",
            outcome: Ok(Finding::Found(Box::new(Report {
                reputation,
                stats: Some(EngineStats {
                    malicious,
                    suspicious,
                    harmless,
                    undetected: 0,
                    timeout: 0,
                }),
                ..Report::default()
            }))),
        }
    }

    fn decide(results: &[ProviderResult]) -> Decision {
        VerdictPolicy::default().decide(results)
    }

    #[test]
    fn engines_at_threshold_are_malicious() {
        let decision = decide(&[vt(Some(0), 3, 0, 5)]);
        assert_eq!(decision.verdict, Verdict::Malicious);
        assert_eq!(decision.basis, Basis::Engines);
    }

    #[test]
    fn engines_below_threshold_are_suspicious() {
        let decision = decide(&[vt(Some(0), 2, 0, 5)]);
        assert_eq!(decision.verdict, Verdict::Suspicious);
        assert_eq!(decision.basis, Basis::Engines);
        let decision = decide(&[vt(Some(0), 0, 1, 5)]);
        assert_eq!(decision.verdict, Verdict::Suspicious);
    }

    #[test]
    fn low_reputation_alone_is_suspicious() {
        let decision = decide(&[vt(Some(-10), 0, 0, 5)]);
        assert_eq!(decision.verdict, Verdict::Suspicious);
        assert_eq!(decision.basis, Basis::Community);
        let decision = decide(&[vt(Some(-9), 0, 0, 5)]);
        assert_eq!(decision.verdict, Verdict::Harmless);
    }

    #[test]
    fn clean_engines_are_harmless() {
        let decision = decide(&[vt(Some(0), 0, 0, 7)]);
        assert_eq!(decision.verdict, Verdict::Harmless);
        assert_eq!(decision.basis, Basis::Engines);
    }

    #[test]
    fn no_analysis_is_unknown() {
        let decision = decide(&[vt(None, 0, 0, 0)]);
        assert_eq!(decision.verdict, Verdict::Unknown);
        assert_eq!(decision.basis, Basis::None);
    }

    #[test]
    fn template_mode_uses_reputation_sign() {
        let policy = VerdictPolicy {
            mode: VerdictMode::Template,
            ..VerdictPolicy::default()
        };
        let negative = policy.decide(&[vt(Some(-1), 0, 0, 9)]);
        assert_eq!(negative.verdict, Verdict::Malicious);
        assert_eq!(negative.basis, Basis::TemplateReputation);
        let zero = policy.decide(&[vt(Some(0), 10, 0, 0)]);
        assert_eq!(zero.verdict, Verdict::Harmless);
    }

    #[test]
    fn feed_match_is_malicious() {
        let feed = ProviderResult {
            provider: "feed",
            outcome: Ok(Finding::Found(Box::new(Report {
                feed_match: Some(FeedMatch {
                    feed: "f.txt".into(),
                    prefix: "1.2.3.0/24".into(),
                    description: None,
                }),
                ..Report::default()
            }))),
        };
        let decision = decide(&[vt(Some(0), 0, 0, 7), feed]);
        assert_eq!(decision.verdict, Verdict::Malicious);
        assert_eq!(decision.basis, Basis::Feed);
        assert_eq!(decision.provider, Some("feed"));
    }

    #[test]
    fn failed_and_not_found_are_unknown() {
        let failed = ProviderResult {
            provider: "virustotal",
            outcome: Err(LookupError::Timeout {
                provider: "virustotal",
                ip: "1.1.1.1".parse().unwrap(),
                attempts: 4,
            }),
        };
        let missing = ProviderResult {
            provider: "feed",
            outcome: Ok(Finding::NotFound),
        };
        let decision = decide(&[failed, missing]);
        assert_eq!(decision.verdict, Verdict::Unknown);
    }
}
