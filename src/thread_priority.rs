//! Lowering a background thread's scheduling priority, so work that can wait (transcription,
//! hashing finished recordings) yields the CPU to the calls' 20 ms media clocks.

/// Lowers the calling thread's priority to `nice` (Linux threads have their own nice value; a
/// thread can lower its own priority without privileges, not raise it back). False if the
/// system refused.
pub fn lower_this_thread(nice: i32) -> bool {
    #[cfg(target_os = "linux")]
    if nice != 0 {
        // SAFETY: setpriority/gettid take plain integers and only affect this thread.
        let rc =
            unsafe { libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, nice) };
        return rc == 0;
    }
    #[cfg(not(target_os = "linux"))]
    let _ = nice;
    true
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_thread_lowers_only_its_own_priority() {
        // SAFETY (all three calls): plain integers in, this process's threads only.
        let before = unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
        if before >= 5 {
            return; // already running at least this low (nice is absolute)
        }
        let lowered = std::thread::spawn(|| {
            assert!(super::lower_this_thread(5));
            unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t) }
        })
        .join()
        .expect("thread");
        assert_eq!(lowered, 5);
        let after = unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t) };
        assert_eq!(after, before, "the calling thread is untouched");
    }
}
