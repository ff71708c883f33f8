//! Command-line interface: `enrich` runs one trigger body through the pipeline and prints it
//! (and with `--apply` writes it to Azure); `serve` runs the Azure Functions custom handler.
//!
//! Exit codes: 0 when every address reached a final status (enriched, not found, skipped,
//! invalid), 2 when some lookup failed, 1 for unusable input or configuration.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{AzureSettings, CredentialKind, ProviderChoice, Settings};
use crate::handler::{self, AllowedWorkspaces, HandlerState};
use crate::sinks::console;
use crate::trigger;

/// Exit code when some lookup failed.
pub const EXIT_FAILED_LOOKUPS: u8 = 2;
/// Exit code for unusable input or configuration.
pub const EXIT_UNUSABLE: u8 = 1;
/// Default time limit of one invocation's lookups under `serve`, in seconds.
const SERVE_LOOKUP_DEADLINE_SECONDS: u64 = 100;

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
    /// Serve the Azure Functions custom handler on 127.0.0.1:$FUNCTIONS_CUSTOMHANDLER_PORT.
    Serve(ServeArgs),
}

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Port the Functions host assigned to the handler.
    #[arg(
        long,
        env = "FUNCTIONS_CUSTOMHANDLER_PORT",
        value_name = "FUNCTIONS_CUSTOMHANDLER_PORT"
    )]
    pub port: Option<u16>,

    #[command(flatten)]
    pub settings: Settings,

    #[command(flatten)]
    pub azure: AzureSettings,
}

#[derive(Debug, clap::Args)]
pub struct EnrichArgs {
    /// File holding the trigger body, or "-" for standard input.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    /// Print one JSON document instead of the readable summary.
    #[arg(long)]
    pub json: bool,

    /// Also write the rows, comment and labels to Azure, as the function does.
    #[arg(long)]
    pub apply: bool,

    #[command(flatten)]
    pub settings: Settings,

    #[command(flatten)]
    pub azure: AzureSettings,
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

    let sinks = if args.apply {
        if let Some(message) = check_apply_target(&args.azure, &trigger) {
            return unusable(&message);
        }
        match args.azure.build_sinks(CredentialKind::DeveloperTools) {
            Ok(sinks) => Some(sinks),
            Err(error) => return unusable(&error.to_string()),
        }
    } else {
        None
    };

    let enrichment = enricher.enrich(&trigger, chrono::Utc::now()).await;
    let written = match &sinks {
        Some(sinks) => Some(sinks.write(&enrichment).await),
        None => None,
    };

    if args.json {
        let mut document = match serde_json::to_value(&enrichment) {
            Ok(document) => document,
            Err(error) => return unusable(&format!("cannot serialise the result: {error}")),
        };
        if let Some(written) = &written {
            document["written"] = serde_json::to_value(written).unwrap_or_default();
        }
        println!(
            "{}",
            serde_json::to_string_pretty(&document).unwrap_or_default()
        );
    } else {
        print!("{}", console::render(&enrichment));
        if let Some(written) = &written {
            println!(
                "Written: {} rows, comment {}, labels added: {}",
                written.rows_written,
                written.comment_id.as_deref().unwrap_or("none"),
                if written.labels_added.is_empty() {
                    "none".to_string()
                } else {
                    written.labels_added.join(", ")
                }
            );
        }
    }

    let write_failed = written
        .as_ref()
        .is_some_and(|written| !written.errors.is_empty());
    if write_failed {
        for error in written.iter().flat_map(|written| &written.errors) {
            eprintln!("error: {error}");
        }
    }
    if let Some(message) = enrichment.rejected_credential() {
        return unusable(message);
    }
    if enrichment.any_failed() {
        eprintln!("error: some lookups failed; see the failed addresses above and run again later");
    }
    if enrichment.any_failed() || write_failed {
        ExitCode::from(EXIT_FAILED_LOOKUPS)
    } else {
        ExitCode::SUCCESS
    }
}

/// Returns why `--apply` must not write this incident, if it must not.
fn check_apply_target(azure: &AzureSettings, trigger: &trigger::Trigger) -> Option<String> {
    let incident = trigger.incident.as_ref()?;
    if !incident.is_well_formed() {
        return Some(format!(
            "incident id {:?} is not a Microsoft Sentinel incident ARM id",
            incident.id
        ));
    }
    let allowed = AllowedWorkspaces::new(&azure.allowed_workspaces);
    let workspace = incident.workspace_id().unwrap_or_default();
    if !allowed.is_empty() && !allowed.contains(workspace) {
        return Some(format!(
            "workspace {workspace} is not in SENTINEL_ALLOWED_WORKSPACES"
        ));
    }
    None
}

/// Runs the `serve` command until the process is stopped.
pub async fn run_serve(args: ServeArgs) -> ExitCode {
    let Some(port) = args.port else {
        return unusable(
            "missing FUNCTIONS_CUSTOMHANDLER_PORT: the Functions host sets it; set it to a free port to run serve by hand",
        );
    };
    if let Some(invalid) = args
        .azure
        .allowed_workspaces
        .iter()
        .find(|id| !id.trim().is_empty() && !crate::handler::is_workspace_id(id))
    {
        return unusable(&format!(
            "invalid SENTINEL_ALLOWED_WORKSPACES entry {invalid:?}: give the workspace's full ARM id, /subscriptions/SUB/resourceGroups/RG/providers/Microsoft.OperationalInsights/workspaces/NAME"
        ));
    }
    let allowed = AllowedWorkspaces::new(&args.azure.allowed_workspaces);
    if allowed.is_empty() {
        return unusable(
            "missing SENTINEL_ALLOWED_WORKSPACES: set it to the ARM ids of the workspaces whose incidents this function may write to, comma-separated",
        );
    }
    if !args.azure.logs_ingestion_configured() {
        return unusable(
            "missing LOGS_INGESTION_ENDPOINT or LOGS_INGESTION_DCR_ID: set both to the data collection rule's logs ingestion endpoint and immutable id",
        );
    }
    // Checked before anything loads, because the built-in example feed is demonstration data
    // and must never label real incidents.
    let api_key = Settings::virustotal_key_from_env();
    if api_key.is_none() && args.settings.feeds.is_empty() {
        return unusable(
            "no provider configured: set VIRUSTOTAL_API_KEY or FEED_PATHS; the built-in example feed is for the command line only",
        );
    }
    let mut enricher = match args.settings.build(api_key) {
        Ok((enricher, _)) => enricher,
        Err(error) => return unusable(&error.to_string()),
    };
    // The playbook's HTTP action waits about 120 seconds, so by default the handler replies
    // before that and lets the retry finish the remaining lookups.
    let deadline = args
        .settings
        .lookup_deadline_seconds
        .unwrap_or(SERVE_LOOKUP_DEADLINE_SECONDS);
    enricher.set_run_deadline(Some(std::time::Duration::from_secs(deadline)));
    let sinks = match args.azure.build_sinks(CredentialKind::ManagedIdentity) {
        Ok(sinks) => sinks,
        Err(error) => return unusable(&error.to_string()),
    };

    tracing::info!(providers = ?enricher.provider_names(), workspaces = allowed_count(&args.azure), "starting custom handler");
    let state = HandlerState {
        enricher: std::sync::Arc::new(enricher),
        sinks: Some(std::sync::Arc::new(sinks)),
        allowed,
    };
    match handler::serve(port, state).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => unusable(&format!("cannot serve on 127.0.0.1:{port}: {error}")),
    }
}

fn allowed_count(azure: &AzureSettings) -> usize {
    azure.allowed_workspaces.len()
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
