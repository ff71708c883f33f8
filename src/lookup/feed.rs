//! Offline feed provider: local lists of addresses and CIDR ranges, matched by longest prefix.
//!
//! Accepted formats, detected per file:
//! - plain text, one address or range per line, `#` starting a comment; text after the entry
//!   (after `;`, `#` or whitespace) becomes its description, which also covers the Feodo
//!   Tracker `ipblocklist.txt` and the older Spamhaus DROP text lists;
//! - the Spamhaus DROP JSON lines format (`{"cidr": "…", "sblid": "…"}` per line, with a
//!   trailing metadata line);
//! - the Feodo Tracker JSON list (`[{"ip_address": "…", "malware": "…"}, …]`).
//!
//! Every listed address counts as malicious for the verdict. A line that holds no valid entry is
//! skipped with a warning naming the file and line, and the count is logged.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use prefix_trie::PrefixMap;
use serde_json::{Value, json};

use super::{FeedMatch, Finding, LookupError, Provider, Report, RunContext};

/// Provider name in output, rows and logs.
pub const NAME: &str = "feed";

/// The example feed compiled into the binary, used when no provider is configured.
pub const EXAMPLE_FEED: &str = include_str!("../../examples/feeds/example-blocklist.txt");
/// Name the example feed is reported under.
pub const EXAMPLE_FEED_NAME: &str = "example-blocklist.txt (built in)";

/// Error of loading a feed at start-up.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// Occurs when the file cannot be read.
    #[error("cannot read feed {path}: {reason}")]
    Unreadable { path: PathBuf, reason: String },
    /// Occurs when a JSON feed does not parse.
    #[error("invalid JSON feed {path}: {reason}")]
    InvalidJson { path: PathBuf, reason: String },
}

#[derive(Debug, Clone)]
struct Entry {
    feed: Arc<str>,
    description: Option<String>,
}

/// Listed prefixes of every loaded feed.
#[derive(Default)]
pub struct Feed {
    v4: PrefixMap<Ipv4Net, Entry>,
    v6: PrefixMap<Ipv6Net, Entry>,
    sources: Vec<String>,
}

impl Feed {
    pub fn new() -> Self {
        Self::default()
    }

    /// Loads a feed file from disk.
    pub fn load_file(&mut self, path: &Path) -> Result<FeedLoad, FeedError> {
        let text = std::fs::read_to_string(path).map_err(|error| FeedError::Unreadable {
            path: path.to_path_buf(),
            reason: error.to_string(),
        })?;
        let name = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        self.load_text(&name, &text)
            .map_err(|reason| FeedError::InvalidJson {
                path: path.to_path_buf(),
                reason,
            })
    }

    /// Loads a feed from text; `name` is reported in matches. Returns the JSON error, if the
    /// text is a JSON list that does not parse.
    pub fn load_text(&mut self, name: &str, text: &str) -> Result<FeedLoad, String> {
        let feed: Arc<str> = Arc::from(name);
        let mut load = FeedLoad::default();
        let trimmed = text.trim_start();

        let entries: Vec<(usize, String, Option<String>)> = if trimmed.starts_with('[') {
            parse_json_list(trimmed)?
        } else if trimmed.starts_with('{') {
            parse_json_lines(text)
        } else {
            parse_plain(text)
        };

        for (line, entry, description) in entries {
            match parse_prefix(&entry) {
                Some(prefix) => {
                    self.insert(
                        prefix,
                        Entry {
                            feed: feed.clone(),
                            description,
                        },
                    );
                    load.entries += 1;
                }
                None => {
                    load.skipped_lines += 1;
                    tracing::warn!(
                        stage = "lookup",
                        provider = NAME,
                        feed = name,
                        line,
                        entry,
                        "feed line holds no valid address or range; skipped"
                    );
                }
            }
        }
        self.sources.push(name.to_string());
        tracing::info!(
            stage = "lookup",
            provider = NAME,
            feed = name,
            entries = load.entries,
            skipped_lines = load.skipped_lines,
            "feed loaded"
        );
        Ok(load)
    }

    /// Names of the loaded feeds.
    pub fn sources(&self) -> &[String] {
        &self.sources
    }

    fn insert(&mut self, prefix: IpNet, entry: Entry) {
        match prefix {
            IpNet::V4(net) => {
                self.v4.insert(net.trunc(), entry);
            }
            IpNet::V6(net) => {
                self.v6.insert(net.trunc(), entry);
            }
        }
    }

    /// Finds the longest listed prefix that contains `ip`.
    pub fn find(&self, ip: IpAddr) -> Option<FeedMatch> {
        let (prefix, entry) = match ip {
            IpAddr::V4(v4) => self
                .v4
                .get_lpm(&Ipv4Net::from(v4))
                .map(|(prefix, entry)| (IpNet::V4(prefix), entry))?,
            IpAddr::V6(v6) => self
                .v6
                .get_lpm(&Ipv6Net::from(v6))
                .map(|(prefix, entry)| (IpNet::V6(prefix), entry))?,
        };
        Some(FeedMatch {
            feed: entry.feed.to_string(),
            prefix: prefix.to_string(),
            description: entry.description.clone(),
        })
    }
}

/// Counts from loading one feed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FeedLoad {
    pub entries: usize,
    pub skipped_lines: usize,
}

#[async_trait]
impl Provider for Feed {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn lookup(&self, ip: IpAddr, _run: &RunContext) -> Result<Finding, LookupError> {
        Ok(match self.find(ip) {
            Some(found) => Finding::Found(Box::new(Report {
                extra: json!({ "feed": found.feed, "prefix": found.prefix }),
                feed_match: Some(found),
                ..Report::default()
            })),
            None => Finding::NotFound,
        })
    }
}

/// Plain text: the first word of each line is the entry; `;` or `#` ends it.
fn parse_plain(text: &str) -> Vec<(usize, String, Option<String>)> {
    let mut entries = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let end = line
            .find(|c: char| c == ';' || c == '#' || c.is_whitespace())
            .unwrap_or(line.len());
        let (entry, rest) = line.split_at(end);
        let description = rest
            .trim_start_matches(|c: char| c == ';' || c == '#' || c.is_whitespace())
            .trim();
        entries.push((
            index + 1,
            entry.to_string(),
            (!description.is_empty()).then(|| description.to_string()),
        ));
    }
    entries
}

/// Spamhaus DROP JSON lines: `{"cidr": "…", "sblid": "…", "rir": "…"}`; other lines are metadata.
fn parse_json_lines(text: &str) -> Vec<(usize, String, Option<String>)> {
    let mut entries = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let Ok(value) = serde_json::from_str::<Value>(line) else {
            entries.push((index + 1, line.to_string(), None));
            continue;
        };
        if let Some(cidr) = value.get("cidr").and_then(Value::as_str) {
            let description = value
                .get("sblid")
                .and_then(Value::as_str)
                .map(str::to_string);
            entries.push((index + 1, cidr.to_string(), description));
        }
    }
    entries
}

/// Feodo Tracker JSON: an array of objects with `ip_address` and `malware`.
fn parse_json_list(text: &str) -> Result<Vec<(usize, String, Option<String>)>, String> {
    let items: Vec<Value> = serde_json::from_str(text).map_err(|error| error.to_string())?;
    Ok(items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            let address = item
                .get("ip_address")
                .or_else(|| item.get("cidr"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let description = item
                .get("malware")
                .and_then(Value::as_str)
                .map(str::to_string);
            (index + 1, address, description)
        })
        .collect())
}

/// Parses an entry, a CIDR range or a single address. Strict parsing rejects octal-looking forms.
fn parse_prefix(entry: &str) -> Option<IpNet> {
    if let Ok(net) = entry.parse::<IpNet>() {
        return Some(net);
    }
    crate::parse::normalise(entry).ok().map(IpNet::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(text: &str) -> Feed {
        let mut feed = Feed::new();
        feed.load_text("test.txt", text).unwrap();
        feed
    }

    #[test]
    fn plain_feed_longest_prefix_wins() {
        let feed = feed("# comment\n45.33.0.0/16 ; wide\n45.33.32.0/24 # narrow\n");
        let found = feed.find("45.33.32.156".parse().unwrap()).unwrap();
        assert_eq!(found.prefix, "45.33.32.0/24");
        assert_eq!(found.description.as_deref(), Some("narrow"));
        assert!(feed.find("45.34.0.1".parse().unwrap()).is_none());
    }

    #[test]
    fn plain_feed_single_address_and_ipv6() {
        let feed = feed("198.51.100.7\n2606:4700::/32\n");
        assert_eq!(
            feed.find("198.51.100.7".parse().unwrap()).unwrap().prefix,
            "198.51.100.7/32"
        );
        assert!(feed.find("198.51.100.8".parse().unwrap()).is_none());
        assert!(feed.find("2606:4700:4700::1111".parse().unwrap()).is_some());
    }

    #[test]
    fn invalid_lines_are_counted() {
        let mut feed = Feed::new();
        let load = feed
            .load_text("t", "1.2.3.4\nnot-an-address\n010.1.1.1\n")
            .unwrap();
        assert_eq!(
            load,
            FeedLoad {
                entries: 1,
                skipped_lines: 2
            }
        );
    }

    #[test]
    fn spamhaus_drop_json_lines() {
        let feed = feed(
            "{\"cidr\":\"1.10.16.0/20\",\"sblid\":\"SBL256894\",\"rir\":\"apnic\"}\n{\"type\":\"metadata\",\"timestamp\":1}\n",
        );
        let found = feed.find("1.10.20.1".parse().unwrap()).unwrap();
        assert_eq!(found.description.as_deref(), Some("SBL256894"));
    }

    #[test]
    fn feodo_json_list() {
        let feed = feed("[{\"ip_address\":\"50.16.16.211\",\"port\":443,\"malware\":\"QakBot\"}]");
        let found = feed.find("50.16.16.211".parse().unwrap()).unwrap();
        assert_eq!(found.description.as_deref(), Some("QakBot"));
    }

    #[test]
    fn example_feed_loads() {
        let mut feed = Feed::new();
        let load = feed.load_text(EXAMPLE_FEED_NAME, EXAMPLE_FEED).unwrap();
        assert!(load.entries > 0);
        assert_eq!(load.skipped_lines, 0);
    }
}
