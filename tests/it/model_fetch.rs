//! `suifang model fetch` against a model host on loopback (this machine is offline): a good file
//! is installed atomically; a file whose SHA-1 does not match is deleted with a clear error.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Output;

use sha1::{Digest, Sha1};

use crate::common;

/// Serves `body` for any GET of `/ggml-*.bin` and 404 otherwise; returns the base URL.
fn host(body: Vec<u8>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/resolve/main", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = String::new();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            reader.read_line(&mut request).unwrap_or(0);
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
            }
            let path = request.split(' ').nth(1).unwrap_or_default();
            if path.starts_with("/resolve/main/ggml-") && path.ends_with(".bin") {
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(&body);
            } else {
                let _ = write!(
                    stream,
                    "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
            }
        }
    });
    url
}

fn fetch(models: &Path, host: &str, args: &[&str]) -> Output {
    let data = tempfile::tempdir().unwrap();
    common::command(data.path())
        .env("SUIFANG_MODEL_DIR", models)
        .env("SUIFANG_MODEL_HOST", host)
        .args(["model", "fetch"])
        .args(args)
        .output()
        .unwrap()
}

fn files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn a_verified_download_is_installed_and_a_mismatch_is_deleted() {
    // 3 MB of not-a-model, in several reads
    let body: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let sha = hex::encode(Sha1::digest(&body));
    let url = host(body.clone());
    let models = tempfile::tempdir().unwrap();

    // good: installed under its name, nothing partial left
    let out = fetch(models.path(), &url, &["custom", "--sha1", &sha]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("verified"), "{stdout}");
    assert_eq!(files(models.path()), ["ggml-custom.bin"]);
    assert_eq!(
        std::fs::read(models.path().join("ggml-custom.bin")).unwrap(),
        body
    );

    // a pinned model whose bytes are not the published ones: refused, deleted
    let out = fetch(models.path(), &url, &["tiny.en"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("checksum mismatch"), "{stderr}");
    assert!(
        stderr.contains("c78c86eb1a8faa21b369bcd33207cc90d64ae9df"),
        "{stderr}"
    );
    assert!(stderr.contains(&sha), "{stderr}");
    assert_eq!(files(models.path()), ["ggml-custom.bin"]);

    // a wrong --sha1, with --force over an installed model: the installed file stays intact
    let wrong = "0".repeat(40);
    let out = fetch(
        models.path(),
        &url,
        &["custom", "--sha1", &wrong, "--force"],
    );
    assert!(!out.status.success());
    assert_eq!(files(models.path()), ["ggml-custom.bin"]);
    assert_eq!(
        std::fs::read(models.path().join("ggml-custom.bin")).unwrap(),
        body
    );

    // unknown names without a checksum, and bad names, fail before any download
    let out = fetch(models.path(), &url, &["whatever"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("--sha1"),
        "{stderr}"
    );
    let out = fetch(models.path(), &url, &["../x", "--sha1", &sha]);
    assert!(!out.status.success());
    assert_eq!(files(models.path()), ["ggml-custom.bin"]);

    // a host without the file: the status is reported
    let elsewhere = url.replace("/resolve/main", "/nothing/here");
    let out = fetch(models.path(), &elsewhere, &["base.en"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("404"), "{stderr}");
    assert_eq!(files(models.path()), ["ggml-custom.bin"]);
}
