//! Slows down an address that keeps sending bad credentials: its 401s come later and
//! later (never a different status), while other addresses are not slowed at all.
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Bad credentials an address may send before its answers are delayed.
const FREE_FAILURES: u32 = 5;
/// The delay per failure past the free ones, and its ceiling.
const STEP: Duration = Duration::from_millis(200);
const MAX_DELAY: Duration = Duration::from_secs(3);
/// An address quiet for this long starts afresh.
const FORGET_AFTER: Duration = Duration::from_secs(60);
/// Addresses remembered at most; past it the table starts over.
const MAX_ADDRESSES: usize = 10_000;

#[derive(Default)]
pub struct Limiter {
    failures: Mutex<HashMap<IpAddr, (u32, Instant)>>,
}

impl Limiter {
    /// Notes a bad credential from `ip` and waits as long as its record says.
    pub async fn failed(&self, ip: IpAddr) {
        let delay = {
            let mut table = self.failures.lock().unwrap_or_else(|e| e.into_inner());
            if table.len() >= MAX_ADDRESSES && !table.contains_key(&ip) {
                table.retain(|_, (_, last)| last.elapsed() < FORGET_AFTER);
                if table.len() >= MAX_ADDRESSES {
                    table.clear();
                }
            }
            let entry = table.entry(ip).or_insert((0, Instant::now()));
            if entry.1.elapsed() >= FORGET_AFTER {
                entry.0 = 0;
            }
            entry.0 = entry.0.saturating_add(1);
            entry.1 = Instant::now();
            delay_for(entry.0)
        };
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
    }

    /// A good credential from `ip` clears its record.
    pub fn succeeded(&self, ip: IpAddr) {
        let mut table = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        table.remove(&ip);
    }
}

fn delay_for(failures: u32) -> Duration {
    let over = failures.saturating_sub(FREE_FAILURES);
    STEP.saturating_mul(over).min(MAX_DELAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_past_the_free_failures_and_stop_at_the_ceiling() {
        assert_eq!(delay_for(1), Duration::ZERO);
        assert_eq!(delay_for(FREE_FAILURES), Duration::ZERO);
        assert_eq!(delay_for(FREE_FAILURES + 1), STEP);
        assert_eq!(delay_for(FREE_FAILURES + 3), STEP * 3);
        assert_eq!(delay_for(1000), MAX_DELAY);
    }
}
