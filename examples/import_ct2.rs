//! Converts a CTranslate2 (faster-whisper) model directory to a ggml file, until the CLI's
//! `suifang model import-ct2` is wired: `cargo run --release --example import_ct2 -- SRC DST`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use suifang::transcribe::model::import_ct2;

fn main() -> ExitCode {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let [src, dst] = args.as_slice() else {
        eprintln!("usage: import_ct2 CT2_MODEL_DIR OUTPUT.bin");
        return ExitCode::from(2);
    };
    let started = Instant::now();
    match import_ct2(src, dst, |_| {}) {
        Ok(info) => {
            println!(
                "{}: whisper {} ({} tensors, {} bytes) in {:.2} s",
                info.path.display(),
                info.size_name(),
                info.tensors,
                info.file_bytes,
                started.elapsed().as_secs_f64()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("import_ct2: {e}");
            ExitCode::FAILURE
        }
    }
}
