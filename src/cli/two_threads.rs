//! Work over a list of photos on two threads (the kiosk PC has two cores), with a progress
//! bar: `kiosk eval` and `kiosk eval-verify`.

use anyhow::{anyhow, Result};
use indicatif::{ProgressBar, ProgressStyle};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// `work` on every item, on two threads, the bar naming the item last done; the outcomes in
/// the items' order (None: never reached).
pub fn map_on_two_threads<T: Sync, R: Send>(
    items: &[T],
    name: impl Fn(&T) -> String + Sync,
    work: impl Fn(&T) -> Result<R, String> + Sync,
) -> Result<Vec<Option<Result<R, String>>>> {
    let bar = ProgressBar::new(items.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<R, String>>>> =
        Mutex::new(items.iter().map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(i) else { break };
                let outcome = work(item);
                if let Ok(mut r) = results.lock() {
                    r[i] = Some(outcome);
                }
                bar.set_message(name(item));
                bar.inc(1);
            });
        }
    });
    bar.finish_and_clear();
    results
        .into_inner()
        .map_err(|_| anyhow!("a worker thread failed"))
}
