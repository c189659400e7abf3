//! What the hub process asks of the operating system before it serves.

/// Makes large allocations (an argon2 hash's 19 MiB, a document's decode) go straight to the
/// kernel and back when freed, and keeps the allocator to four arenas. Without this glibc
/// raises its mmap threshold after the first large free and keeps every blocking thread's
/// freed blocks resident: a stranger's parallel logins took the hub to 4.7 GB. Also raises
/// the open-file limit to what the connection limit needs.
pub fn prepare(max_connections: usize) {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tuning; called before any other thread starts
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 << 10);
        libc::mallopt(libc::M_ARENA_MAX, 4);
    }
    #[cfg(unix)]
    {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit/setrlimit read and write the struct we own
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
                let wanted = (max_connections as libc::rlim_t + 256).min(limit.rlim_max);
                if limit.rlim_cur < wanted {
                    limit.rlim_cur = wanted;
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                        tracing::warn!(target: "hub", "cannot raise the open-file limit");
                    }
                }
            }
        }
    }
}
