use clap::Parser;

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SUIFANG_LOG").unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new(
                    "info,tower_http=warn,rtc=warn,rtc_dtls=error,rtc_ice=error,webrtc=warn",
                )
            }),
        )
        .with_writer(std::io::stderr)
        .init();
    match suifang::cli::run(suifang::cli::Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
