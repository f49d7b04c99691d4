//! The time the CronJob controller schedules by: the system clock, or a fake one that tests
//! set and advance (each change makes the controller look at every CronJob again).

use std::fmt::Debug;

use futures::stream::BoxStream;
use futures::StreamExt;
use jiff::Timestamp;
use tokio::sync::watch;

/// A source of the current time.
pub trait Clock: Send + Sync + Debug + 'static {
    /// The current time.
    fn now(&self) -> Timestamp;
    /// Yields whenever the time jumps (never, for the system clock), so that waiting
    /// CronJobs are looked at again at once.
    fn jumps(&self) -> BoxStream<'static, ()>;
}

/// The machine's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }

    fn jumps(&self) -> BoxStream<'static, ()> {
        futures::stream::pending().boxed()
    }
}

/// A clock that stands still until told to move.
#[derive(Debug)]
pub struct FakeClock {
    now: watch::Sender<Timestamp>,
}

impl FakeClock {
    /// A clock showing `now`.
    pub fn new(now: Timestamp) -> Self {
        Self {
            now: watch::Sender::new(now),
        }
    }

    /// Sets the time.
    pub fn set(&self, now: Timestamp) {
        self.now.send_replace(now);
    }

    /// Moves the time forward by `by`.
    pub fn advance(&self, by: jiff::SignedDuration) {
        self.now.send_modify(|now| {
            if let Ok(later) = now.checked_add(by) {
                *now = later;
            }
        });
    }
}

impl Clock for FakeClock {
    fn now(&self) -> Timestamp {
        *self.now.borrow()
    }

    fn jumps(&self) -> BoxStream<'static, ()> {
        let receiver = self.now.subscribe();
        futures::stream::unfold(receiver, |mut receiver| async move {
            receiver.changed().await.ok()?;
            Some(((), receiver))
        })
        .boxed()
    }
}
