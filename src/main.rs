//! Start-up: parse the command line, set up logging, and hand over to the command.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use sentinel_ip_enrich::cli::{Cli, Command, EXIT_UNUSABLE, run_enrich, run_serve};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // Help and version are not errors; every other parse failure is unusable input, reported
        // on one line. A value set through an environment variable shows under its flag's name,
        // whose placeholder is the variable's name.
        Err(error) if !error.use_stderr() => {
            let _ = error.print();
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            let rendered = error.to_string();
            let first_line = rendered.lines().next().unwrap_or("invalid arguments");
            eprintln!("{first_line} (see --help)");
            return ExitCode::from(EXIT_UNUSABLE);
        }
    };

    init_logging(&cli.command);

    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(EXIT_UNUSABLE);
        }
    };
    match cli.command {
        Command::Enrich(args) => runtime.block_on(run_enrich(args)),
        Command::Serve(args) => runtime.block_on(run_serve(args)),
    }
}

/// Sets up logging. Under the Functions host, which collects stdout, logs are JSON lines on
/// stdout. The command line prints its result on stdout, so there logs go to stderr as text.
fn init_logging(command: &Command) {
    let filter = |default: &str| {
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default))
    };
    match command {
        Command::Serve(_) => tracing_subscriber::fmt()
            .with_env_filter(filter("sentinel_ip_enrich=info,actix_server=warn"))
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .init(),
        Command::Enrich(_) => tracing_subscriber::fmt()
            .with_env_filter(filter("sentinel_ip_enrich=warn"))
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal())
            .compact()
            .init(),
    }
}
