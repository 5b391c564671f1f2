//! Gated steps of two kinds that must not overlap: account operations under
//! Control Tower (creating or moving an account into a governed OU, which
//! may start its enrollment the moment the call returns) and every other
//! gated step. Steps of one kind run side by side, as Control Tower runs
//! several account operations at once; a step of the other kind waits until
//! the room is empty, then checks Control Tower afresh.

use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

/// The kind of a gated step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Creating or moving an account under Control Tower.
    Accounts,
    /// Any other gated step.
    Others,
}

/// Who is in the room: the kind and how many.
#[derive(Debug, Default)]
pub struct Rooms {
    inside: Mutex<(Option<Kind>, usize)>,
    emptied: Notify,
}

/// Held while a step of its kind runs.
pub struct InRoom {
    rooms: Arc<Rooms>,
}

impl Rooms {
    /// Waits until no step of the other kind runs, then enters.
    pub async fn enter(self: &Arc<Self>, kind: Kind) -> InRoom {
        loop {
            // Registered before looking, so an emptying in between is not missed.
            let emptied = self.emptied.notified();
            tokio::pin!(emptied);
            emptied.as_mut().enable();
            {
                let mut inside = self.inside.lock().expect("rooms");
                if inside.1 == 0 || inside.0 == Some(kind) {
                    *inside = (Some(kind), inside.1 + 1);
                    return InRoom {
                        rooms: self.clone(),
                    };
                }
            }
            emptied.await;
        }
    }
}

impl Drop for InRoom {
    fn drop(&mut self) {
        let mut inside = self.rooms.inside.lock().expect("rooms");
        inside.1 -= 1;
        if inside.1 == 0 {
            inside.0 = None;
            drop(inside);
            self.rooms.emptied.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_kind_waits_for_the_other_to_leave_and_its_own_kind_shares() {
        let rooms = Arc::new(Rooms::default());
        let first = rooms.enter(Kind::Accounts).await;
        let second = rooms.enter(Kind::Accounts).await;
        let waiting = tokio::spawn({
            let rooms = rooms.clone();
            async move { rooms.enter(Kind::Others).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "entered beside the other kind");
        drop(first);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "entered while one account step still ran");
        drop(second);
        let other = tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("entered once the room was empty")
            .unwrap();
        let blocked = tokio::time::timeout(Duration::from_millis(50), rooms.enter(Kind::Accounts));
        assert!(blocked.await.is_err(), "an account step entered beside another kind");
        drop(other);
        let _ = rooms.enter(Kind::Accounts).await;
    }
}
