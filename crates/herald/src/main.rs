//! The `herald` command: run the server, emit events, apply and export configuration, manage
//! keys.

#[cfg(not(target_env = "msvc"))]
mod allocator;
mod commands;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "herald",
    version,
    about = "Events in; native, durable, audited deliveries out."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the API and the delivery workers.
    Serve(commands::serve::ServeArgs),
    /// Post an event to a running Herald.
    Emit(commands::emit::EmitArgs),
    /// Make a running Herald match a herald.yaml: plan, then create and update (idempotent).
    Apply(commands::apply::ApplyArgs),
    /// Write a running Herald's state as a herald.yaml, without secrets.
    Export(commands::export::ExportArgs),
    /// Measure end-to-end webhook throughput and latency against a bare HTTP client.
    Bench(commands::bench::BenchArgs),
    /// List, show and test integrations.
    #[command(subcommand)]
    Integrations(commands::integrations::IntegrationsCommand),
    /// Accepted events: list them by type, module, run or time.
    #[command(subcommand)]
    Events(commands::events::EventsCommand),
    /// The delivery log: list, show (with attempts) and retry deliveries.
    #[command(subcommand)]
    Deliveries(commands::deliveries::DeliveriesCommand),
    /// Print the exact request(s) a provider would send for an event, without sending.
    Render(commands::render::RenderArgs),
    /// Organisations (tenants).
    #[command(subcommand)]
    Org(commands::org::OrgCommand),
    /// Master key tools.
    #[command(subcommand)]
    Keys(commands::keys::KeysCommand),
    /// Console users: set or reset a password.
    #[command(subcommand)]
    Users(commands::users::UsersCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Runtime::new().expect("the tokio runtime starts");
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(config) => commands::serve::run(config).await,
            Command::Emit(args) => commands::emit::run(args).await,
            Command::Apply(args) => commands::apply::run(args).await,
            Command::Export(args) => commands::export::run(args).await,
            Command::Bench(args) => commands::bench::run(args).await,
            Command::Keys(command) => commands::keys::run(command).await,
            Command::Integrations(command) => commands::integrations::run(command).await,
            Command::Events(command) => commands::events::run(command).await,
            Command::Deliveries(command) => commands::deliveries::run(command).await,
            Command::Render(args) => commands::render::run(args).await,
            Command::Org(command) => commands::org::run(command).await,
            Command::Users(command) => commands::users::run(command).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("herald: {message}");
            ExitCode::FAILURE
        }
    }
}
