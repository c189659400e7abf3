//! The systemd watchdog, fed from the UI thread. The unit (`Type=notify`, `WatchdogSec=`)
//! restarts the kiosk when the pings stop; they are sent by a Slint timer, which runs only while
//! the UI thread turns its event loop, so a frozen UI — not only a crash — stops them. A thread
//! of its own would keep pinging for a hung window and hide the freeze.
//!
//! Under `cage` the service's main process is the compositor and the kiosk its child: systemd
//! names cage in `WATCHDOG_PID`, so `sd_notify::watchdog_enabled` (which wants its own pid there)
//! would say "off". The kiosk also accepts its parent's pid, and the unit sets
//! `NotifyAccess=all` so systemd takes messages from a process other than the main one.

use std::time::Duration;

/// Where the pings go: systemd's notify socket, or a test's recorder.
pub trait Notify {
    fn ready(&self);
    fn ping(&self);
}

/// `$NOTIFY_SOCKET`, through the sd-notify crate; without the socket (a desktop, a test run)
/// nothing is sent.
pub struct Systemd;

impl Notify for Systemd {
    fn ready(&self) {
        if let Err(e) = sd_notify::notify(false, &[sd_notify::NotifyState::Ready]) {
            tracing::warn!(error = %e, "could not tell systemd the kiosk is ready");
        }
    }
    fn ping(&self) {
        if let Err(e) = sd_notify::notify(false, &[sd_notify::NotifyState::Watchdog]) {
            tracing::warn!(error = %e, "could not feed the systemd watchdog");
        }
    }
}

/// How often to ping for the service's watchdog, from `WATCHDOG_USEC` and `WATCHDOG_PID` as
/// systemd sets them: half the timeout (systemd's own advice), or None when no watchdog is
/// meant for this process. `pid` and `parent` are this process's and its parent's ids.
pub fn ping_interval(
    usec: Option<&str>,
    watchdog_pid: Option<&str>,
    pid: u32,
    parent: u32,
) -> Option<Duration> {
    let usec: u64 = usec?.trim().parse().ok().filter(|u| *u > 0)?;
    if let Some(p) = watchdog_pid {
        let p: u32 = p.trim().parse().ok()?;
        // the compositor (cage) is the main process and the kiosk its child
        if p != pid && p != parent {
            return None;
        }
    }
    Some(Duration::from_micros(usec / 2))
}

/// This process's interval, from its environment.
pub fn interval_from_env() -> Option<Duration> {
    let usec = std::env::var("WATCHDOG_USEC").ok();
    let pid = std::env::var("WATCHDOG_PID").ok();
    ping_interval(
        usec.as_deref(),
        pid.as_deref(),
        std::process::id(),
        std::os::unix::process::parent_id(),
    )
}

/// The feeding timer: READY=1 once, then WATCHDOG=1 at `interval` for as long as the Slint
/// event loop of this (the UI) thread runs its timers. Dropping it stops the pings.
pub struct Feeder {
    timer: slint::Timer,
}

impl Feeder {
    /// Tells systemd the kiosk is up and starts the pings when a watchdog is configured.
    pub fn start(notify: impl Notify + 'static, interval: Option<Duration>) -> Feeder {
        notify.ready();
        let timer = slint::Timer::default();
        if let Some(every) = interval {
            tracing::info!(
                interval_ms = every.as_millis() as u64,
                "feeding the systemd watchdog from the UI thread"
            );
            notify.ping();
            timer.start(slint::TimerMode::Repeated, every, move || notify.ping());
        }
        Feeder { timer }
    }

    pub fn running(&self) -> bool {
        self.timer.running()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[derive(Clone, Default)]
    struct Recorder {
        ready: Arc<AtomicUsize>,
        pings: Arc<AtomicUsize>,
    }

    impl Notify for Recorder {
        fn ready(&self) {
            self.ready.fetch_add(1, Ordering::SeqCst);
        }
        fn ping(&self) {
            self.pings.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn pings_only_while_the_ui_thread_runs_its_timers() {
        // mock time: Slint's timers fire only when this (the UI) thread advances them
        i_slint_backend_testing::init_no_event_loop();
        let rec = Recorder::default();
        let feeder = Feeder::start(rec.clone(), Some(Duration::from_millis(20)));
        assert!(feeder.running());
        assert_eq!(rec.ready.load(Ordering::SeqCst), 1);
        let first = rec.pings.load(Ordering::SeqCst);
        assert_eq!(first, 1, "one ping as soon as the window is up");

        // the UI thread turns its loop for 10 intervals: the watchdog is fed each time
        for _ in 0..10 {
            i_slint_backend_testing::mock_elapsed_time(Duration::from_millis(20));
        }
        let fed = rec.pings.load(Ordering::SeqCst);
        assert!(fed >= 10, "{fed} pings in 10 intervals");

        // the UI thread is frozen: real time passes (5 intervals) but its loop does not turn;
        // nothing else may feed the watchdog, or a hung window would never be restarted
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(
            rec.pings.load(Ordering::SeqCst),
            fed,
            "fed while the UI was frozen"
        );

        // the loop turns again: the pings resume
        i_slint_backend_testing::mock_elapsed_time(Duration::from_millis(20));
        assert_eq!(rec.pings.load(Ordering::SeqCst), fed + 1);

        // the window is gone (the feeder dropped): no more pings
        drop(feeder);
        for _ in 0..5 {
            i_slint_backend_testing::mock_elapsed_time(Duration::from_millis(20));
        }
        assert_eq!(rec.pings.load(Ordering::SeqCst), fed + 1);
    }

    #[test]
    fn without_a_watchdog_only_ready_is_sent() {
        let rec = Recorder::default();
        // a timer is only created, never started: no event loop needed
        let feeder = Feeder::start(rec.clone(), None);
        assert!(!feeder.running());
        assert_eq!(rec.ready.load(Ordering::SeqCst), 1);
        assert_eq!(rec.pings.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn the_interval_is_half_the_timeout_for_this_process_or_its_compositor() {
        let half = Some(Duration::from_secs(10));
        // systemd names the main process; under cage that is the kiosk's parent
        assert_eq!(ping_interval(Some("20000000"), Some("41"), 42, 41), half);
        assert_eq!(ping_interval(Some("20000000"), Some("42"), 42, 41), half);
        assert_eq!(ping_interval(Some("20000000"), None, 42, 41), half);
        // meant for another process (a child the kiosk started would inherit the variables)
        assert_eq!(ping_interval(Some("20000000"), Some("7"), 42, 41), None);
        // no watchdog, or nonsense
        assert_eq!(ping_interval(None, Some("42"), 42, 41), None);
        assert_eq!(ping_interval(Some("0"), None, 42, 41), None);
        assert_eq!(ping_interval(Some("soon"), None, 42, 41), None);
        assert_eq!(ping_interval(Some("20000000"), Some("x"), 42, 41), None);
    }
}
