//! The `meridian` command: parses arguments, sets up logging, runs, and maps errors to exit
//! codes. Nothing else lives here.

use std::error::Error;
use std::io::IsTerminal;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use meridian::app;
use meridian::config::Source;
use meridian::control::load::{self, ApiFiles};
use meridian::control::state::{Persisted, StateFile};
use tracing_subscriber::EnvFilter;

/// The version, the commit and the build date (`build.rs`): what `--version` prints.
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("MERIDIAN_COMMIT"),
    ", built ",
    env!("MERIDIAN_BUILD_DATE"),
    ")"
);

/// An authoritative GeoDNS load balancer.
#[derive(Parser)]
#[command(name = "meridian", version = VERSION, about, args_conflicts_with_subcommands = true)]
struct Cli {
    /// Without a subcommand: `serve`, with these options (the embedded default configuration
    /// without --config).
    #[command(flatten)]
    serve: ServeArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

/// `serve`'s options, also taken without the subcommand.
#[derive(clap::Args)]
struct ServeArgs {
    /// Configuration file; without it, the embedded default is used.
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// ADDR:PORT to listen on (UDP and TCP); repeatable; replaces server.listen.
    #[arg(long, value_name = "ADDR:PORT")]
    listen: Vec<String>,
    /// ADDR:PORT for the admin API; replaces api.listen (and turns the API on).
    #[arg(long, value_name = "ADDR:PORT")]
    api: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve DNS over UDP and TCP until SIGTERM or SIGINT.
    Serve(ServeArgs),
    /// Make a DNSSEC key pair for ZONE in BIND's format: K<zone>.+<alg>+<tag>.key and
    /// .private (mode 0600), as dnssec-keygen writes them. A key-signing key (flags 257),
    /// which signs everything when it is the zone's only key (a CSK), unless --zsk.
    Keygen {
        /// The zone the key signs.
        zone: String,
        /// ecdsap256sha256 (13) or ed25519 (15).
        #[arg(long, short, default_value = "ecdsap256sha256")]
        algorithm: String,
        /// A zone-signing key (flags 256), to pair with a key-signing key.
        #[arg(long)]
        zsk: bool,
        /// The directory to write the two files into.
        #[arg(long, default_value = ".")]
        out: PathBuf,
    },
    /// Print the DS records of a signed zone's key-signing keys (SHA-256), for its parent.
    Ds {
        /// The configuration naming the zone's keys.
        #[arg(long, short)]
        config: PathBuf,
        /// The zone.
        zone: String,
    },
    /// Check a configuration and every zone file it names, then exit.
    CheckConfig {
        /// The configuration file to check (as `serve --config` would read it).
        file: PathBuf,
    },
    /// Print the answer a client would get, and every step of why: the running server's
    /// (asked through its admin API, as `ctl` does), or with --offline or --config, the
    /// answer a server started on a configuration file would give.
    Explain {
        /// Configuration file for an offline answer; without it, the embedded default. Given
        /// without --api, the answer is offline, from this file.
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Answer from the configuration file, without asking a running server.
        #[arg(long)]
        offline: bool,
        #[command(flatten)]
        connection: meridian::ctl::ApiArgs,
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
    /// Print a shell completion script (e.g. `meridian completions bash > /etc/bash_completion.d/meridian`).
    Completions {
        /// The shell the script is for.
        shell: clap_complete::Shell,
    },
    /// Print the man page (`meridian man | man -l -`), or write a page per command to a directory.
    Man {
        /// Write meridian.1 and a page per subcommand (meridian-serve.1, ...) into this directory.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
}

/// Hickory logs a line per request at info; keep it to warnings unless RUST_LOG says more.
const DEFAULT_LOG: &str = "info,hickory_server=warn,hickory_proto=warn,hickory_net=warn";

/// The client commands (`ctl`, `explain`) print their own errors: a library's log line of the
/// same failure (rustls-platform-verifier logs a refused certificate at ERROR) would say it
/// twice, in another voice.
const CLIENT_LOG: &str = "warn,rustls_platform_verifier=off";

fn main() -> ExitCode {
    steady_heap();
    let cli = Cli::parse();
    let default = match cli.command {
        Some(Command::Ctl(_) | Command::Explain { .. }) => CLIENT_LOG,
        _ => DEFAULT_LOG,
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let ansi = std::io::stderr().is_terminal();
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi).init();
    let command = cli.command.unwrap_or(Command::Serve(cli.serve));
    let result = match command {
        Command::Serve(ServeArgs { config, listen, api }) => serve(config, &listen, api.as_deref()),
        Command::CheckConfig { file } => check_config(file),
        Command::Keygen { zone, algorithm, zsk, out } => keygen(&zone, &algorithm, !zsk, &out),
        Command::Ds { config, zone } => ds(&config, &zone),
        Command::Explain { config, offline, connection, client, ecs, json, name, rtype } => {
            let asked = Asked { client, ecs: ecs.as_deref(), name: &name, rtype: &rtype };
            explain(config, offline, &connection, &asked, json)
        }
        Command::Ctl(args) => meridian::ctl::run(args).map_err(Into::into),
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "meridian", &mut script);
            print(&script)
        }
        Command::Man { out } => man(out.as_deref()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", chain(error.as_ref()));
            ExitCode::FAILURE
        }
    }
}

/// The configuration file, or the embedded default without one.
fn read_source(path: Option<&std::path::Path>) -> Result<Source, Box<dyn Error>> {
    Ok(match path {
        Some(path) => Source::read(path)?,
        None => Source::embedded_default()?,
    })
}

fn serve(path: Option<PathBuf>, listen: &[String], api: Option<&str>) -> Result<(), Box<dyn Error>> {
    let mut source = read_source(path.as_deref())?;
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

/// Checks the file, the zones, database, token and API certificate it names, and the saved
/// API changes laid over it, with the very function `serve` and a reload load with: the
/// verdict is whether `serve` would start on these files, and the warnings what it would set
/// aside.
fn keygen(zone: &str, algorithm: &str, ksk: bool, out: &std::path::Path) -> Result<(), Box<dyn Error>> {
    let stem = meridian::dnssec::keyfiles::keygen(zone, algorithm, ksk, out, meridian::control::unix_now())?;
    println!("{}", stem.display());
    Ok(())
}

fn ds(config: &std::path::Path, zone: &str) -> Result<(), Box<dyn Error>> {
    let config = Source::read(config)?.validate()?;
    print!("{}", meridian::dnssec::keyfiles::ds_lines(&config, zone)?);
    Ok(())
}

fn check_config(file: PathBuf) -> Result<(), Box<dyn Error>> {
    let source = Source::read(&file)?;
    let saved = saved_changes(source.state_dir().as_deref())?;
    let prepared = load::prepare(source, &saved.changes, ApiFiles::Read, None, clock())?;
    for change in &prepared.set_aside {
        println!(
            "warning: serve would set aside this saved API change (the configuration no longer allows it): {change}"
        );
    }
    let snapshot = &prepared.snapshot;
    let records: usize = snapshot.zones.iter().map(|z| z.record_count).sum();
    let changes = prepared.changes.count();
    println!(
        "{}: ok ({} zone(s), {records} record(s), {changes} saved API change(s) in force)",
        file.display(),
        snapshot.zones.len()
    );
    Ok(())
}

/// The saved API changes as `serve` would find them, read only: checking must not create the
/// state directory (as root, say, for a service that runs as another user). A state file
/// `serve` would set aside is a warning, as `serve` starts without it.
fn saved_changes(dir: Option<&std::path::Path>) -> Result<Persisted, Box<dyn Error>> {
    let Some(dir) = dir else { return Ok(Persisted::default()) };
    // Followed as `serve` follows it when not started as root (as root, a link is refused).
    match std::fs::metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("note: state_dir {} does not exist yet; serve creates it", dir.display());
            return Ok(Persisted::default());
        }
        Err(e) => return Err(format!("state_dir {}: {e}", dir.display()).into()),
        Ok(meta) if !meta.is_dir() => {
            return Err(format!("state_dir {} is not a directory", dir.display()).into());
        }
        Ok(_) => {}
    }
    Ok(StateFile::existing(dir).load().unwrap_or_else(|error| {
        eprintln!("warning: {error}; serve would keep it aside and start without the saved changes");
        Persisted::default()
    }))
}

/// What `explain` is asked.
struct Asked<'a> {
    client: IpAddr,
    ecs: Option<&'a str>,
    name: &'a str,
    rtype: &'a str,
}

/// The running server's answer when one is asked and answers; else the offline answer from
/// the file, said plainly on stderr. A server named with --api (or MERIDIAN_API) must answer;
/// the default address is only tried.
fn explain(
    config: Option<PathBuf>,
    offline: bool,
    connection: &meridian::ctl::ApiArgs,
    asked: &Asked<'_>,
    json: bool,
) -> Result<(), Box<dyn Error>> {
    use meridian::ctl::CtlError;
    let explicit = connection.api.is_some();
    let mut not_live = None;
    if !offline && (explicit || config.is_none()) {
        let request = meridian::ctl::explain_request(asked.name, asked.rtype, asked.client, asked.ecs);
        match meridian::ctl::fetch(connection, &request) {
            Ok(answer) => {
                let explanation: meridian::explain::Explanation = serde_json::from_value(answer)
                    .map_err(|e| format!("the answer of the API at {} is not an explanation: {e}", connection.url()))?;
                return print_explanation(&explanation, json);
            }
            Err(CtlError::Token(_)) if !explicit => {
                not_live = Some(
                    "no API token is set (--token-file, --token, MERIDIAN_API_TOKEN_FILE or MERIDIAN_API_TOKEN), so \
                     no running server was asked"
                        .to_owned(),
                );
            }
            Err(error @ (CtlError::Connect { .. } | CtlError::Timeout { .. })) if !explicit => {
                not_live = Some(format!("no server answered at {}: {error}", connection.url()));
            }
            Err(error) => return Err(error.into()),
        }
    }
    // The server's own loader, saved API changes included, so the answer is the one a server
    // started now on this configuration would give (every endpoint in its initial health state).
    let file =
        config.as_ref().map_or_else(|| "the embedded default configuration".to_owned(), |p| p.display().to_string());
    let source = read_source(config.as_deref())?;
    let saved = saved_changes(source.state_dir().as_deref())?;
    let prepared = load::prepare(source, &saved.changes, ApiFiles::Skip, None, clock())?;
    if let Some(reason) = not_live {
        eprintln!("note: {reason}");
    }
    eprintln!(
        "note: this is an offline answer from {file} and its {} saved API change(s), with every endpoint in \
         its initial health state: live health, drains and failovers are not known (ask the running server with \
         --api and a token, as ctl does)",
        prepared.changes.count()
    );
    let explanation = meridian::explain::explain(&prepared.snapshot, asked.name, asked.rtype, asked.client, asked.ecs)?;
    print_explanation(&explanation, json)
}

fn print_explanation(explanation: &meridian::explain::Explanation, json: bool) -> Result<(), Box<dyn Error>> {
    if json {
        println!("{}", serde_json::to_string_pretty(explanation)?);
    } else {
        print!("{}", explanation.to_text());
    }
    Ok(())
}

/// The man page on standard output, or every command's page written into `out`.
fn man(out: Option<&std::path::Path>) -> Result<(), Box<dyn Error>> {
    let command = Cli::command();
    let Some(dir) = out else {
        let mut page = Vec::new();
        clap_mangen::Man::new(command).render(&mut page)?;
        return print(&page);
    };
    let written = std::fs::create_dir_all(dir).and_then(|()| clap_mangen::generate_to(command, dir));
    written.map_err(|e| format!("cannot write man pages in {}: {e}", dir.display()))?;
    println!("man pages written in {}", dir.display());
    Ok(())
}

/// Writes generated text to standard output; a reader that went away (`| head`) is not an error.
fn print(bytes: &[u8]) -> Result<(), Box<dyn Error>> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// `main` is an edge: it reads the clock for the health table the checks start from.
#[allow(clippy::disallowed_methods)]
fn clock() -> std::time::Instant {
    std::time::Instant::now()
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
