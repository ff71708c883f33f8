//! Command-line interface: `enrich` runs one trigger body through the pipeline and prints it.
//!
//! Exit codes: 0 when every address reached a final status (enriched, not found, skipped,
//! invalid), 2 when some lookup failed, 1 for unusable input or configuration.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{ProviderChoice, Settings};
use crate::sinks::console;
use crate::trigger;

/// Exit code when some lookup failed.
pub const EXIT_FAILED_LOOKUPS: u8 = 2;
/// Exit code for unusable input or configuration.
pub const EXIT_UNUSABLE: u8 = 1;

/// Enrich Microsoft Sentinel incidents with IP reputation.
#[derive(Debug, Parser)]
#[command(name = "sentinel-ip-enrich", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Enrich one playbook trigger body (incident, alert or entity) and print the result.
    Enrich(EnrichArgs),
}

#[derive(Debug, clap::Args)]
pub struct EnrichArgs {
    /// File holding the trigger body, or "-" for standard input.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    /// Print one JSON document instead of the readable summary.
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub settings: Settings,
}

/// Runs the `enrich` command and returns its exit code.
pub async fn run_enrich(args: EnrichArgs) -> ExitCode {
    let body = match read_input(&args.file) {
        Ok(body) => body,
        Err(message) => return unusable(&message),
    };
    let trigger = match trigger::parse_bytes(&body) {
        Ok(trigger) => trigger,
        Err(error) => {
            return unusable(&format!(
                "{}: {error}. Pass the body of a Microsoft Sentinel incident, alert or entity trigger.",
                args.file.display()
            ));
        }
    };
    let (enricher, choice) = match args.settings.build(Settings::virustotal_key_from_env()) {
        Ok(built) => built,
        Err(error) => return unusable(&error.to_string()),
    };
    if choice == ProviderChoice::ExampleFeed {
        eprintln!(
            "note: no VIRUSTOTAL_API_KEY and no --feed given, so the built-in example feed (demonstration data) is the only provider"
        );
    }

    let enrichment = enricher.enrich(&trigger, chrono::Utc::now()).await;

    if args.json {
        match serde_json::to_string_pretty(&enrichment) {
            Ok(text) => println!("{text}"),
            Err(error) => return unusable(&format!("cannot serialise the result: {error}")),
        }
    } else {
        print!("{}", console::render(&enrichment));
    }

    if enrichment.any_failed() {
        eprintln!("error: some lookups failed; see the failed addresses above and run again later");
        ExitCode::from(EXIT_FAILED_LOOKUPS)
    } else {
        ExitCode::SUCCESS
    }
}

fn read_input(path: &PathBuf) -> Result<Vec<u8>, String> {
    if path.as_os_str() == "-" {
        let mut body = Vec::new();
        std::io::stdin()
            .read_to_end(&mut body)
            .map_err(|error| format!("cannot read standard input: {error}"))?;
        return Ok(body);
    }
    std::fs::read(path).map_err(|error| format!("cannot read {}: {error}", path.display()))
}

fn unusable(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(EXIT_UNUSABLE)
}
