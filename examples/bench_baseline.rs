//! The framework's upper bound for the handler benchmark: an actix-web server on 127.0.0.1 that
//! reads the request body and returns a fixed invocation reply, with no pipeline and no upstream
//! calls. It uses the same actix-web version and default worker count as `serve`.
//!
//! The reply is the file given with `--reply-file` (bench/run.sh saves a real `EnrichIncident`
//! reply there, so both servers send the same bytes), or else a built-in reply of the same
//! shape. Either way it contains `"statusCode":200`, which the load generator checks.
//!
//! Usage: `bench_baseline [--port 0] [--reply-file PATH]`. The first line on stdout is the port.

use std::io::Write;

use actix_web::{App, HttpResponse, HttpServer, web};
use clap::Parser;

const BUILT_IN_REPLY: &str = r#"{"Logs":["incident /subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg-soc-example/providers/Microsoft.OperationalInsights/workspaces/law-soc-example/providers/Microsoft.SecurityInsights/Incidents/a1b2c3d4-0000-4000-8000-00000000abcd: 7 addresses (4 enriched, 3 skipped)"],"Outputs":{"res":{"body":"{\"incident\":{\"id\":\"a1b2c3d4\",\"number\":4211,\"title\":\"fixed\"},\"ips\":[{\"input\":\"45.33.32.156\",\"ip\":\"45.33.32.156\",\"reason\":\"0 of 94 engines report malicious\",\"status\":\"enriched\",\"verdict\":\"harmless\"}],\"labels\":[\"IP reputation: harmless\"],\"summary\":{\"addresses\":7,\"by_status\":{\"enriched\":4,\"skipped\":3},\"by_verdict\":{\"harmless\":4,\"unknown\":3}}}","headers":{"Content-Type":"application/json"},"statusCode":200}},"ReturnValue":null}"#;

#[derive(Parser)]
struct Args {
    /// Port on 127.0.0.1; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    port: u16,

    /// File whose content is the reply to every request.
    #[arg(long)]
    reply_file: Option<std::path::PathBuf>,
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let reply = match &args.reply_file {
        Some(path) => web::Bytes::from(std::fs::read(path)?),
        None => web::Bytes::from_static(BUILT_IN_REPLY.as_bytes()),
    };
    let reply = web::Data::new(reply);

    let server = HttpServer::new(move || {
        App::new()
            .app_data(reply.clone())
            .default_service(web::to(fixed_reply))
    })
    .bind(("127.0.0.1", args.port))?;

    // The caller reads the port from the first line, so it must be flushed before serving.
    let port = server.addrs()[0].port();
    println!("{port}");
    std::io::stdout().flush()?;

    server.run().await
}

/// Reads the body in full, as the real handler does, then returns the fixed reply.
async fn fixed_reply(_body: web::Bytes, reply: web::Data<web::Bytes>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(web::Bytes::clone(&reply))
}
