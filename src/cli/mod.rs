//! The command line: each subcommand is a thin wrapper over the library.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};

use crate::clock::Clock;
use crate::config::Config;
use crate::followup::import::parse_csv;
use crate::followup::pathway::PathwayCatalog;
use crate::server;
use crate::store::audit_anchor::AnchorCheck;
use crate::store::{audit, Store, StoreError};

mod api_tokens;
mod bench_extra;
mod transcribe;
mod users;

pub use users::UserCommand;

#[derive(Parser, Debug)]
#[command(
    name = "suifang",
    version,
    about = "suifang (随访): patient follow-up call center server"
)]
pub struct Cli {
    /// Configuration file (TOML); SUIFANG_* environment variables override it.
    #[arg(long, global = true, env = "SUIFANG_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server.
    Serve,
    /// Seed demo users and patients (idempotent), then run the server.
    Demo,
    /// Apply database migrations and exit.
    Migrate,
    /// Import data.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// API tokens of system clients (the FHIR API at /fhir/r4).
    #[command(subcommand)]
    ApiToken(api_tokens::ApiTokenCommand),
    /// Audit log tools.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Queue tools.
    #[command(subcommand)]
    Queue(QueueCommand),
    /// Pathway tools.
    #[command(subcommand)]
    Pathways(PathwaysCommand),
    /// Whisper models: fetch one (online, checksum-verified), import a CTranslate2 model
    /// offline, list installed ones.
    #[command(subcommand)]
    Model(transcribe::ModelCommand),
    /// Transcribe recordings (speaker-labelled transcript on stdout, progress on stderr).
    Transcribe(transcribe::TranscribeArgs),
    /// Script tools.
    #[command(subcommand)]
    Scripts(ScriptsCommand),
    /// A simulated patient phone (real SIP/RTP on UDP): answers numbers with recorded speech;
    /// dial busy… / decline… / wrong… / noanswer… for the other outcomes.
    SimPatient {
        #[arg(long, default_value = "127.0.0.1:5070")]
        listen: std::net::SocketAddr,
        /// What the patient says (any format symphonia decodes).
        #[arg(long, default_value = "prompts/demo/patient-zh.wav")]
        audio: PathBuf,
        #[arg(long, default_value_t = 1500)]
        ring_ms: u64,
        #[arg(long, default_value_t = 30)]
        hangup_after: u64,
    },
    /// Benchmarks (print figures; not tests).
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Subcommand, Debug)]
pub enum ImportCommand {
    /// Import patients (and their discharge) from CSV; all rows or none.
    Patients { file: PathBuf },
}

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Check the hash chain; exits non-zero if any row was edited or deleted.
    Verify,
}

#[derive(Subcommand, Debug)]
pub enum QueueCommand {
    /// Rebuild today's queue now.
    Build,
}

#[derive(Subcommand, Debug)]
pub enum PathwaysCommand {
    /// Validate every pathway file.
    Check,
}

#[derive(Subcommand, Debug)]
pub enum ScriptsCommand {
    /// Validate every script in prompts/scripts; errors are printed as file:line.
    Check,
}

#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Build the daily queue over many tasks and measure concurrent claims.
    Queue {
        #[arg(long, default_value_t = 100_000)]
        patients: u32,
        #[arg(long, default_value_t = 1_000_000)]
        tasks: u32,
        #[arg(long, default_value_t = 50)]
        claimers: u32,
        #[arg(long, default_value_t = 40)]
        claims_per_claimer: u32,
    },
    /// suifang vs faster-whisper (int8, float32) on the same recordings: RTF, CPU, WER/CER.
    Transcribe(transcribe::BenchTranscribeArgs),
    /// CPU per WebRTC agent line: N lines, each looping audio through the server (G.711).
    Webrtc {
        #[arg(long, default_value_t = 10)]
        lines: usize,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// Click → INVITE latency with a persistent agent line, and CPU per call bridged to a
    /// WebRTC line vs SIP-only.
    Dial {
        #[arg(long, default_value_t = 100)]
        dials: usize,
        /// Length of each CPU measurement window.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// N concurrent bridged, recorded SIP calls (sipp phones on loopback): CPU and memory per
    /// call, packets relayed, recorded gaps; `--compare rtpengine` runs the same load through
    /// rtpengine (userspace) and prints both.
    Calls {
        #[arg(long, default_value_t = 10)]
        calls: usize,
        /// Measured window once every call is up.
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        /// Calls placed per second while ramping up.
        #[arg(long, default_value_t = 20)]
        rate: u32,
        /// Also run this relay under the same load.
        #[arg(long, value_enum)]
        compare: Option<CompareWith>,
        /// Keep the work directory (recordings, sipp logs, pcaps).
        #[arg(long)]
        keep: bool,
    },
    /// Answer saved → escalation pushed to a connected doctor (HTTP + SSE), p50/p99.
    Escalation {
        #[arg(long, default_value_t = 1000)]
        answers: usize,
    },
    /// ADT^A03 over MLLP, ACK after commit: msg/s and ACK p50/p99 over 1 and N connections,
    /// side by side with python-hl7's MLLP server.
    Hl7 {
        /// Messages per run.
        #[arg(long, default_value_t = 5000)]
        messages: usize,
        /// Connection counts, one run each.
        #[arg(long, value_delimiter = ',', default_value = "1,8")]
        connections: Vec<usize>,
        /// The python with python-hl7 (default: ~/.cache/suifang/venv/bin/python, as
        /// scripts/setup.sh installs it).
        #[arg(long)]
        python: Option<String>,
        /// Measure suifang only.
        #[arg(long)]
        no_peer: bool,
    },
}

/// Relays `bench calls` can compare against.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompareWith {
    /// Sipwise rtpengine (Debian `rtpengine-daemon`), userspace forwarding, pcap recording.
    Rtpengine,
}

pub(crate) fn open_store(config: &Config) -> Result<Store> {
    let path = config.database_path();
    Store::open(
        &path,
        Clock::with_offset_seconds(config.clock.offset_seconds)
            .now()
            .timestamp(),
    )
    .with_context(|| format!("opening database {}", path.display()))
}

fn print_logins(config: &Config) {
    println!("\nDemo logins (username / password):");
    for (name, password, role, _, _) in crate::demo::DEMO_USERS {
        println!("  {name:<11} {password:<18} ({})", role.as_str());
    }
    println!(
        "Demo settings: patients may be called at any hour (hospital.calling_hours {}; `suifang serve` keeps {}), SIP on {}.",
        config.hospital.calling_hours,
        crate::config::HospitalConfig::default().calling_hours,
        config.sip.bind
    );
    println!("Open http://{}/ in a browser.\n", config.http.addr);
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    let config = match cli.command {
        Command::Demo => Config::load_demo(cli.config.as_deref()),
        _ => Config::load(cli.config.as_deref()),
    }
    .context("loading configuration")?;
    match cli.command {
        Command::Serve => run_server(config, false),
        Command::Demo => run_server(config, true),
        Command::Migrate => {
            let store = open_store(&config)?;
            let version: u32 = store.read_blocking(|c| {
                Ok(
                    c.query_row("SELECT MAX(version) FROM schema_migrations", [], |r| {
                        r.get(0)
                    })?,
                )
            })?;
            println!(
                "database {} is at schema version {version}",
                store.path().display()
            );
            Ok(())
        }
        Command::Import(ImportCommand::Patients { file }) => import_patients(&config, &file),
        Command::User(command) => users::run(&config, command),
        Command::ApiToken(command) => api_tokens::run(&config, command),
        Command::Audit(AuditCommand::Verify) => {
            let store = open_store(&config)?;
            let report = store.read_blocking(audit::verify)?;
            if let Some((id, why)) = report.broken_at {
                bail!("audit log broken at row {id}: {why}");
            }
            println!("audit log intact: {} rows verified", report.rows);
            // the chain cannot show rows deleted from its end; the anchor outside can
            let anchor = crate::service::audit_anchor::open(&config, false)?;
            let check = match &anchor {
                Some(a) => store.read_blocking({
                    let a = a.clone();
                    move |c| Ok(a.check(c))
                })??,
                None => AnchorCheck::Absent,
            };
            match check {
                AnchorCheck::Holds { anchored } => {
                    let at = chrono::DateTime::from_timestamp(anchored.at, 0)
                        .map(|t| t.to_rfc3339())
                        .unwrap_or_else(|| anchored.at.to_string());
                    println!(
                        "anchor holds: row {} was anchored at {at} with this hash",
                        anchored.id
                    );
                    Ok(())
                }
                AnchorCheck::Absent => {
                    println!(
                        "no audit anchor yet (the server writes one): deleting the newest rows would not be detected"
                    );
                    Ok(())
                }
                AnchorCheck::Broken { line, why } => bail!(
                    "audit log broken: {why} (anchor {} line {line})",
                    anchor
                        .map(|a| a.path.display().to_string())
                        .unwrap_or_default()
                ),
            }
        }
        Command::Queue(QueueCommand::Build) => {
            let store = open_store(&config)?;
            let now = Clock::with_offset_seconds(config.clock.offset_seconds).now();
            let b = store.write_blocking(move |tx| crate::store::tasks::build_queue(tx, now))?;
            println!(
                "queue built: {} entries ({} tasks newly missed)",
                b.entries, b.newly_missed
            );
            Ok(())
        }
        Command::Pathways(PathwaysCommand::Check) => {
            let dir = config.prompts_dir.join("pathways");
            let catalog = PathwayCatalog::load_dir(&dir)?;
            for p in catalog.pathways.values() {
                println!("ok  {} v{} ({} steps)", p.code, p.version, p.steps.len());
            }
            Ok(())
        }
        Command::SimPatient {
            listen,
            audio,
            ring_ms,
            hangup_after,
        } => {
            let samples = crate::sim::load_audio(&audio)?;
            let opts = crate::sim::SimOptions {
                listen,
                ring: std::time::Duration::from_millis(ring_ms),
                hangup_after: std::time::Duration::from_secs(hangup_after),
                recordings_dir: std::env::temp_dir().join("suifang-sim-patient"),
            };
            let rt = tokio::runtime::Runtime::new()?;
            rt.block_on(crate::sim::run(opts, samples, server::shutdown_signal()))?;
            Ok(())
        }
        Command::Model(command) => transcribe::run_model(command, &config),
        Command::Transcribe(args) => transcribe::run_transcribe(args),
        Command::Bench(BenchCommand::Transcribe(args)) => transcribe::run_bench(args),
        Command::Bench(BenchCommand::Webrtc { lines, seconds }) => {
            let r = crate::bench::lines::run(lines, seconds)?;
            println!(
                "suifang bench webrtc ({} lines, {:.0} s, audio both ways)",
                r.lines, r.seconds
            );
            println!(
                "  line side: {:.2} CPU s = {:.2} % of one core per line; probe softphones {:.2} CPU s; median offer→connected {} ms; {} frames heard back",
                r.line_cpu_seconds, r.cpu_percent_per_line, r.probe_cpu_seconds, r.connect_ms_p50, r.frames_heard
            );
            if r.frames_heard == 0 {
                bail!("no audio came back through the lines: the figures above measure nothing");
            }
            Ok(())
        }
        Command::Scripts(ScriptsCommand::Check) => {
            let report = crate::followup::script::check_dir(&config.prompts_dir.join("scripts"));
            println!("{report}");
            if report.is_ok() {
                Ok(())
            } else {
                bail!("scripts have errors")
            }
        }
        Command::Bench(BenchCommand::Dial { dials, seconds }) => {
            crate::bench::dial::run(dials, seconds)?;
            Ok(())
        }
        Command::Bench(BenchCommand::Calls {
            calls,
            seconds,
            rate,
            compare,
            keep,
        }) => {
            crate::bench::calls::run(crate::bench::calls::CallsBenchOptions {
                calls,
                seconds,
                rate,
                compare_rtpengine: compare == Some(CompareWith::Rtpengine),
                keep,
            })?;
            Ok(())
        }
        Command::Bench(BenchCommand::Hl7 {
            messages,
            connections,
            python,
            no_peer,
        }) => {
            let python = python.unwrap_or_else(|| {
                let home = std::env::var("HOME").unwrap_or_default();
                format!("{home}/.cache/suifang/venv/bin/python")
            });
            let rt = tokio::runtime::Runtime::new()?;
            rt.block_on(crate::bench::hl7::run(crate::bench::hl7::Hl7BenchOptions {
                messages,
                connections,
                peer_python: (!no_peer).then_some(python),
            }))?;
            Ok(())
        }
        Command::Bench(BenchCommand::Escalation { answers }) => {
            let rt = tokio::runtime::Runtime::new()?;
            rt.block_on(crate::bench::escalation::run(answers))?;
            Ok(())
        }
        Command::Bench(BenchCommand::Queue {
            patients,
            tasks,
            claimers,
            claims_per_claimer,
        }) => {
            let locale = crate::followup::retry::Locale {
                tz: config.time_zone()?,
                hours: config.calling_hours()?,
            };
            let rt = tokio::runtime::Runtime::new()?;
            rt.block_on(crate::bench::queue::run(
                crate::bench::queue::QueueBenchOptions {
                    patients,
                    tasks,
                    claimers,
                    claims_per_claimer,
                },
                locale,
            ))?;
            Ok(())
        }
    }
}

/// `serve` on a database that still has the demo's published logins (a demo database put in
/// production, or `suifang demo` run once by mistake) would let anyone who read the README in.
fn refuse_demo_logins(store: &Store) -> Result<()> {
    let working = crate::demo::working_demo_logins(store)?;
    if working.is_empty() {
        return Ok(());
    }
    let first = working[0];
    bail!(
        "refusing to start: the demo logins {} still work with the passwords published in the \
         README.\n  Disable them (`suifang user disable --username {first}`) or give them new \
         passwords (`suifang user password --username {first}`);\n  to run the demo, use \
         `suifang demo`; to serve this database as it is (a drill), set \
         auth.allow_demo_logins = true (or SUIFANG_ALLOW_DEMO_LOGINS=true).",
        working.join(", ")
    )
}

fn run_server(mut config: Config, demo: bool) -> Result<()> {
    // The demo's patient phone: a real SIP UAS on UDP, reachable like a trunk.
    // SUIFANG_DEMO_SIM_PATIENT=ADDR moves it, =off leaves it out (parallel test servers).
    let sim_addr = match std::env::var("SUIFANG_DEMO_SIM_PATIENT").ok().as_deref() {
        Some("off") => None,
        Some(addr) => Some(
            addr.parse::<std::net::SocketAddr>()
                .context("SUIFANG_DEMO_SIM_PATIENT must be ADDR:PORT or off")?,
        ),
        None => Some(std::net::SocketAddr::from(([127, 0, 0, 1], 5070))),
    };
    if demo && config.sip.trunk.is_none() {
        // calls go to the simulated patient phone, as they would to a hospital's trunk
        config.sip.trunk = sim_addr;
    }
    let prepared = server::prepare(config)?;
    if !demo && !prepared.state.config.auth.allow_demo_logins {
        refuse_demo_logins(&prepared.state.store)?;
    }
    if demo {
        let state = &prepared.state;
        let added = crate::demo::seed(
            &state.store,
            &state.pathways,
            &state.calendar,
            state.clock.now(),
        )?;
        println!(
            "{}",
            if added {
                "Demo data seeded."
            } else {
                "Demo data already present."
            }
        );
        print_logins(&state.config);
    }
    let rt = tokio::runtime::Runtime::new()?;
    if let (true, Some(listen)) = (demo, sim_addr) {
        let audio = prepared
            .state
            .config
            .prompts_dir
            .join("demo/patient-zh.wav");
        match crate::sim::load_audio(&audio) {
            Ok(samples) => {
                let opts = crate::sim::SimOptions {
                    listen,
                    ring: std::time::Duration::from_millis(1500),
                    hangup_after: std::time::Duration::from_secs(30),
                    recordings_dir: prepared.state.recordings.dir().join("sim-patient"),
                };
                rt.spawn(async move {
                    if let Err(e) = crate::sim::run(opts, samples, std::future::pending()).await {
                        eprintln!("demo: the simulated patient phone did not start: {e}");
                    }
                });
            }
            Err(e) => eprintln!("demo: no simulated patient phone: {e}"),
        }
    }
    rt.block_on(server::serve(prepared, server::shutdown_signal()))?;
    Ok(())
}

fn import_patients(config: &Config, file: &std::path::Path) -> Result<()> {
    let data = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let store = open_store(config)?;
    let now = Clock::with_offset_seconds(config.clock.offset_seconds).now();
    let tz = config.time_zone()?;
    let rows = match parse_csv(&data, tz, now) {
        Ok(rows) => rows,
        Err(errors) => report_lines(file, errors)?,
    };
    let catalog = PathwayCatalog::load_dir(&config.prompts_dir.join("pathways"))?;
    let calendar = crate::followup::pathway::Calendar {
        tz,
        holidays: config.hospital.holidays.clone(),
        tcm_two_business_days: config.hospital.tcm_two_business_days,
    };
    let shown = file.display().to_string();
    let planned_types = config.outcomes.planned_admission_types.clone();
    let result = store.write_blocking(move |tx| {
        let n = crate::store::patients::import_rows(
            tx,
            &rows,
            &catalog,
            &calendar,
            &planned_types,
            now,
        )?;
        audit::append(
            tx,
            &audit::Actor::system("cli"),
            "import",
            "patient",
            None,
            &format!("file={shown} rows={n}"),
            now.timestamp(),
        )?;
        Ok(n)
    });
    match result {
        Ok(n) => {
            println!("imported {n} patients from {}", file.display());
            Ok(())
        }
        Err(StoreError::Rejected(errors)) => report_lines(file, errors),
        Err(e) => Err(e.into()),
    }
}

fn report_lines<T>(
    file: &std::path::Path,
    errors: Vec<crate::followup::import::LineError>,
) -> Result<T> {
    for e in &errors {
        eprintln!("{}:{}", file.display(), e);
    }
    bail!(
        "{} bad rows in {}; nothing was imported",
        errors.len(),
        file.display()
    )
}
