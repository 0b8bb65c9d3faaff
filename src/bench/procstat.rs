//! Process figures for the benchmarks: CPU seconds and resident memory of this process
//! (getrusage, /proc/self) or of another one (/proc/PID), and the open-files limit.

/// Linux's USER_HZ: /proc reports CPU times in 1/100 s on every mainstream architecture.
const TICKS_PER_SECOND: f64 = 100.0;

/// User + system CPU seconds of this process (all threads), from getrusage(2).
pub fn self_cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes into the zeroed struct we pass.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return f64::NAN;
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// User + system CPU seconds of process `pid` (all threads), from /proc/PID/stat.
pub fn pid_cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state …": comm may hold spaces, so count fields after the last ')'.
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / TICKS_PER_SECOND)
}

/// CPU ticks used so far by each of this process's threads whose name starts with `prefix`,
/// by thread id (Linux `/proc/self/task`). Names are cut to 15 bytes by the kernel, and so is
/// `prefix`.
pub fn thread_ticks(prefix: &str) -> std::collections::HashMap<String, u64> {
    let mut ticks = std::collections::HashMap::new();
    for (tid, stat) in threads_named(prefix, "stat") {
        // "tid (comm) state …": comm may hold spaces, so the fields start after the last ')'
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        let used: u64 = [11, 12]
            .iter()
            .filter_map(|&i| fields.get(i).and_then(|f| f.parse::<u64>().ok()))
            .sum();
        ticks.insert(tid, used);
    }
    ticks
}

/// Nanoseconds each thread whose name starts with `prefix` has run and has waited runnable
/// for a CPU (`/proc/self/task/*/schedstat`), by thread id. The wait is what scheduling
/// latency costs a media clock: a runtime thread that waits holds the calls queued on it.
pub fn thread_run_and_wait(prefix: &str) -> std::collections::HashMap<String, (u64, u64)> {
    threads_named(prefix, "schedstat")
        .into_iter()
        .filter_map(|(tid, line)| {
            let mut f = line.split_whitespace().map(|v| v.parse::<u64>().ok());
            Some((tid, (f.next()??, f.next()??)))
        })
        .collect()
}

/// Seconds (ran, waited) the threads in `after` added since `before`.
pub fn run_and_wait_seconds_between(
    before: &std::collections::HashMap<String, (u64, u64)>,
    after: &std::collections::HashMap<String, (u64, u64)>,
) -> (f64, f64) {
    let (mut ran, mut waited) = (0u64, 0u64);
    for (tid, (r, w)) in after {
        let (r0, w0) = before.get(tid).copied().unwrap_or((0, 0));
        ran += r.saturating_sub(r0);
        waited += w.saturating_sub(w0);
    }
    (ran as f64 / 1e9, waited as f64 / 1e9)
}

/// (thread id, contents of `/proc/self/task/<tid>/<file>`) of this process's threads whose
/// name starts with `prefix` (names are cut to 15 bytes by the kernel, and so is `prefix`).
fn threads_named(prefix: &str, file: &str) -> Vec<(String, String)> {
    let prefix = prefix.get(..prefix.len().min(15)).unwrap_or(prefix);
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter(|task| {
            std::fs::read_to_string(task.path().join("comm"))
                .is_ok_and(|comm| comm.trim_end_matches('\n').starts_with(prefix))
        })
        .filter_map(|task| {
            let contents = std::fs::read_to_string(task.path().join(file)).ok()?;
            Some((task.file_name().to_string_lossy().into_owned(), contents))
        })
        .collect()
}

/// CPU seconds the threads in `after` used since `before`, counted per thread: a pool thread
/// that exited in between loses its last slice instead of making the figure negative.
pub fn thread_cpu_seconds_between(
    before: &std::collections::HashMap<String, u64>,
    after: &std::collections::HashMap<String, u64>,
) -> f64 {
    let used: u64 = after
        .iter()
        .map(|(tid, t)| t.saturating_sub(before.get(tid).copied().unwrap_or(0)))
        .sum();
    used as f64 / TICKS_PER_SECOND
}

/// Resident set size of process `pid` ("self" for this one) in bytes, from VmRSS.
pub fn rss_bytes(pid: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Raises the soft open-files limit to `wanted` (or the hard limit if lower); returns the
/// (old, new) soft limits. Every call leg holds two sockets and the recorded leg a file, and
/// child processes (sipp, rtpengine) inherit the raised limit.
pub fn raise_nofile(wanted: u64) -> std::io::Result<(u64, u64)> {
    // SAFETY: get/setrlimit read and write only the struct we pass.
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let old = lim.rlim_cur;
    if old >= wanted {
        return Ok((old, old));
    }
    lim.rlim_cur = wanted.min(lim.rlim_max);
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok((old, lim.rlim_cur))
}

/// The 1-minute load average, from /proc/loadavg (the machine is shared: figures need it).
pub fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_cpu_is_counted_per_thread() {
        assert!(!thread_ticks("").is_empty(), "this thread is listed");
        let before = [("1", 100), ("2", 40)]
            .map(|(k, v)| (k.to_string(), v))
            .into_iter()
            .collect();
        // thread 2 exited, thread 3 is new
        let after = [("1", 350), ("3", 100)]
            .map(|(k, v)| (k.to_string(), v))
            .into_iter()
            .collect();
        assert_eq!(thread_cpu_seconds_between(&before, &after), 3.5);
    }

    #[test]
    fn thread_run_and_wait_is_read_and_windowed() {
        let now = thread_run_and_wait("");
        assert!(
            now.values().any(|(ran, _)| *ran > 0),
            "this thread has run: {now:?}"
        );
        let before = [("1", (1_000_000_000, 0)), ("2", (5, 5))]
            .map(|(k, v)| (k.to_string(), v))
            .into_iter()
            .collect();
        let after = [("1", (3_000_000_000, 500_000_000))]
            .map(|(k, v)| (k.to_string(), v))
            .into_iter()
            .collect();
        assert_eq!(run_and_wait_seconds_between(&before, &after), (2.0, 0.5));
    }

    #[test]
    fn this_process_has_cpu_memory_and_a_load_figure() {
        assert!(self_cpu_seconds() >= 0.0);
        assert!(rss_bytes("self").is_some_and(|b| b > 0));
        assert!(pid_cpu_seconds(std::process::id()).is_some());
        assert!(load_average().is_some());
    }
}
