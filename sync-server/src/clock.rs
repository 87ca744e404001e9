//! The server's one clock, passed to whatever needs the time: the system
//! clock in production, a [`ManualClock`] that tests set and advance.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// Where the time comes from.
pub trait Clock: Send + Sync {
    /// Unix milliseconds.
    fn now_ms(&self) -> i64;

    /// Unix seconds.
    fn now(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }
}

/// The clock every handler and worker shares.
pub type SharedClock = Arc<dyn Clock>;

/// The operating system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
    }
}

/// The system clock, shared.
pub fn system() -> SharedClock {
    Arc::new(SystemClock)
}

/// A clock that moves only when told to.
#[derive(Debug, Default)]
pub struct ManualClock {
    ms: AtomicI64,
}

impl ManualClock {
    pub fn at(seconds: i64) -> Arc<Self> {
        Arc::new(Self {
            ms: AtomicI64::new(seconds.saturating_mul(1000)),
        })
    }

    pub fn set(&self, seconds: i64) {
        self.ms
            .store(seconds.saturating_mul(1000), Ordering::SeqCst);
    }

    pub fn advance(&self, seconds: i64) {
        self.ms
            .fetch_add(seconds.saturating_mul(1000), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.ms.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let clock = ManualClock::at(1_000);
        assert_eq!(clock.now(), 1_000);
        clock.advance(61);
        assert_eq!(clock.now(), 1_061);
        clock.set(5);
        assert_eq!(clock.now_ms(), 5_000);
    }

    #[test]
    fn the_system_clock_is_after_2025() {
        assert!(SystemClock.now() > 1_735_689_600);
    }
}
