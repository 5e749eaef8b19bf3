//! The `meridian` command: parses arguments, sets up logging, runs, and maps errors to exit
//! codes. Nothing else lives here.

use std::error::Error;
use std::io::IsTerminal;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use meridian::app;
use meridian::config::{Config, Source};
use meridian::control::state::{Persisted, StateFile};
use tracing_subscriber::EnvFilter;

/// An authoritative GeoDNS load balancer.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Without a subcommand, `serve` on the embedded default configuration.
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve DNS over UDP and TCP until SIGTERM or SIGINT.
    Serve {
        /// Configuration file; without it, the embedded default is used.
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// ADDR:PORT to listen on (UDP and TCP); repeatable; replaces server.listen.
        #[arg(long, value_name = "ADDR:PORT")]
        listen: Vec<String>,
        /// ADDR:PORT for the admin API; replaces api.listen (and turns the API on).
        #[arg(long, value_name = "ADDR:PORT")]
        api: Option<String>,
    },
    /// Check a configuration and every zone file it names, then exit.
    CheckConfig {
        /// Configuration file.
        file: PathBuf,
    },
    /// Print the answer a client would get, and every step of why.
    Explain {
        /// Configuration file; without it, the embedded default is used.
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// The address the query comes from (the resolver's, or the client's without ECS).
        #[arg(long)]
        client: IpAddr,
        /// The EDNS Client Subnet the resolver sends, e.g. 198.51.100.0/24.
        #[arg(long, value_name = "SUBNET")]
        ecs: Option<String>,
        /// JSON output, for scripts.
        #[arg(long)]
        json: bool,
        /// The name asked for.
        name: String,
        /// The record type asked for.
        #[arg(default_value = "A")]
        rtype: String,
    },
    /// Ask a running server's admin API: status, regions, drains, failovers, history, reload.
    Ctl(meridian::ctl::CtlArgs),
}

/// Hickory logs a line per request at info; keep it to warnings unless RUST_LOG says more.
const DEFAULT_LOG: &str = "info,hickory_server=warn,hickory_proto=warn,hickory_net=warn";

fn main() -> ExitCode {
    steady_heap();
    let cli = Cli::parse();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_LOG));
    let ansi = std::io::stderr().is_terminal();
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi).init();
    let command = cli.command.unwrap_or(Command::Serve { config: None, listen: Vec::new(), api: None });
    let result = match command {
        Command::Serve { config, listen, api } => serve(config, &listen, api.as_deref()),
        Command::CheckConfig { file } => check_config(file),
        Command::Explain { config, client, ecs, json, name, rtype } => {
            explain(config, client, ecs.as_deref(), json, &name, &rtype)
        }
        Command::Ctl(args) => meridian::ctl::run(args).map_err(Into::into),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", chain(error.as_ref()));
            ExitCode::FAILURE
        }
    }
}

fn load(config: Option<PathBuf>) -> Result<Config, Box<dyn Error>> {
    Ok(match config {
        Some(path) => Config::read(&path)?,
        None => Config::embedded_default()?,
    })
}

fn serve(path: Option<PathBuf>, listen: &[String], api: Option<&str>) -> Result<(), Box<dyn Error>> {
    let mut source = match &path {
        Some(path) => Source::read(path)?,
        None => Source::embedded_default()?,
    };
    if !listen.is_empty() {
        source.set_listen(listen);
    }
    if let Some(api) = api {
        source.set_api_listen(api);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(app::serve(source, path))?;
    Ok(())
}

/// Checks the file, the zones, database and API certificate it names, and the saved API
/// changes laid over it, as `serve` would load them.
fn check_config(file: PathBuf) -> Result<(), Box<dyn Error>> {
    let mut source = Source::read(&file)?;
    source.set_cpus(std::thread::available_parallelism().map_or(1, |n| n.get()));
    let config = source.validate()?;
    // Read only: checking must not create the state directory (as root, say, for a service
    // that runs as another user).
    let saved = match &config.state_dir {
        Some(dir) if dir.exists() => StateFile::existing(dir).load()?,
        _ => Persisted::default(),
    };
    let (config, skipped) =
        source.validate_with(&saved.changes).map_err(|e| format!("with the saved API changes: {e}"))?;
    for problem in &skipped {
        println!("warning: a saved API change no longer fits: {problem}");
    }
    if let Some(tls) = config.api.as_ref().and_then(|api| api.tls.as_ref()) {
        meridian::api::tls::acceptor(tls)?;
    }
    let snapshot = app::build_snapshot(Arc::new(config), 1, None)?;
    let records: usize = snapshot.zones.iter().map(|z| z.record_count).sum();
    let changes = saved.changes.count();
    println!(
        "{}: ok ({} zone(s), {records} record(s), {changes} saved API change(s))",
        file.display(),
        snapshot.zones.len()
    );
    Ok(())
}

fn explain(
    config: Option<PathBuf>,
    client: IpAddr,
    ecs: Option<&str>,
    json: bool,
    name: &str,
    rtype: &str,
) -> Result<(), Box<dyn Error>> {
    let snapshot = app::build_snapshot(Arc::new(load(config)?), 1, None)?;
    let explanation = meridian::explain::explain(&snapshot, name, rtype, client, ecs)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&explanation)?);
    } else {
        print!("{}", explanation.to_text());
    }
    Ok(())
}

/// The error and its sources, joined, as ripgrep and routinator print them.
fn chain(error: &dyn Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
        source = cause_of(source);
    }
    text
}

fn cause_of<'a>(error: Option<&'a (dyn Error + 'static)>) -> Option<&'a (dyn Error + 'static)> {
    error.and_then(Error::source)
}

/// Fixes glibc's mmap threshold (128 KiB, its default start). Left to itself glibc raises the
/// threshold each time a large block is freed, so after a reload frees the old geo table the
/// next one is built on the heap, which then keeps its high-water mark: the soak test saw RSS
/// climb from 26 to 65 MiB over 19 reloads, and stay flat at 27 MiB with the threshold fixed.
fn steady_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}
