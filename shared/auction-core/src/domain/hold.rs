//! Holds on items: where each of an auction's items is, and how a sale, a confirmation and a
//! release move it (docs/design/reservations.md). Pure: the store applies the same moves with
//! conditional writes, and these functions decide what a caller may ask of it.

use serde::{Deserialize, Serialize};

use super::auction::EndReason;
use super::epoch::EpochMillis;

/// Where an auction's items are. `total = remaining + held + confirmed + unsold` after every
/// move; `sold` and `released` only grow, and `remaining = total - sold + released`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemCounts {
    /// Items offered.
    pub total: u32,
    /// Items a bid can take now.
    pub remaining: u32,
    /// Items won and not yet paid for.
    pub held: u32,
    /// Items paid for: final.
    pub confirmed: u32,
    /// Items whose hold lapsed after the schedule ended: nobody bought them.
    pub unsold: u32,
    /// Sales so far (every accepted bid), never less.
    pub sold: u32,
    /// Items returned to the room by a lapsed hold, never less.
    pub released: u32,
}

/// What clients count by (the snapshot's and the item frames' fields): `sold_items` and
/// `released_items` only grow, so a client keeps the largest of each it has seen and shows
/// `total - sold + released` however frames were reordered (docs/protocol.md section 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemTally {
    /// Items a bid can take, as read.
    pub remaining_items: u32,
    /// Sales so far (every accepted bid); never less.
    #[serde(default)]
    pub sold_items: u32,
    /// Items returned to the room by lapsed holds; never less.
    #[serde(default)]
    pub released_items: u32,
}

/// A move the counts do not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ItemMoveError {
    /// A sale with nothing available.
    #[error("no item is available")]
    NoneAvailable,
    /// A confirmation or release with nothing held.
    #[error("no item is held")]
    NoneHeld,
}

/// Where a lapsed hold's item goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Release {
    /// Back to the room, at the price of that moment: the schedule is still running.
    Returned,
    /// Nowhere: the schedule has ended (or the auction's end is recorded), so it is unsold.
    Unsold,
}

impl ItemCounts {
    /// A new auction's counts: everything available.
    #[must_use]
    pub fn new(total: u32) -> Self {
        Self {
            total,
            remaining: total,
            ..Self::default()
        }
    }

    /// Whether the counts add up (every stored row must).
    #[must_use]
    pub fn add_up(&self) -> bool {
        let placed = u64::from(self.remaining)
            + u64::from(self.held)
            + u64::from(self.confirmed)
            + u64::from(self.unsold);
        placed == u64::from(self.total)
            && u64::from(self.remaining) + u64::from(self.sold)
                == u64::from(self.total) + u64::from(self.released)
    }

    /// A sale: one available item becomes held.
    ///
    /// # Errors
    /// [`ItemMoveError::NoneAvailable`].
    pub fn sell(&mut self) -> Result<(), ItemMoveError> {
        self.remaining = self
            .remaining
            .checked_sub(1)
            .ok_or(ItemMoveError::NoneAvailable)?;
        self.held += 1;
        self.sold += 1;
        Ok(())
    }

    /// A confirmation: one held item is paid for.
    ///
    /// # Errors
    /// [`ItemMoveError::NoneHeld`].
    pub fn confirm(&mut self) -> Result<(), ItemMoveError> {
        self.held = self.held.checked_sub(1).ok_or(ItemMoveError::NoneHeld)?;
        self.confirmed += 1;
        Ok(())
    }

    /// A lapsed hold: its item goes back to the room, or is unsold once the schedule is over.
    ///
    /// # Errors
    /// [`ItemMoveError::NoneHeld`].
    pub fn release(&mut self, to: Release) -> Result<(), ItemMoveError> {
        self.held = self.held.checked_sub(1).ok_or(ItemMoveError::NoneHeld)?;
        match to {
            Release::Returned => {
                self.remaining += 1;
                self.released += 1;
            }
            Release::Unsold => self.unsold += 1,
        }
        Ok(())
    }

    /// Whether every item is held and none can be bid on: the auction stays `Active` (its status
    /// only moves forward), and a bid is rejected `AllReserved`.
    #[must_use]
    pub fn all_reserved(&self) -> bool {
        self.remaining == 0 && self.held > 0
    }

    /// Whether every item is paid for or gone: the auction is sold out.
    #[must_use]
    pub fn sold_out(&self) -> bool {
        self.remaining == 0 && self.held == 0
    }

    /// The end recorded when the schedule runs out: `SoldOut` if nothing was available at that
    /// moment (holds still open are confirmed or lapse unsold afterwards), `FloorReached`
    /// otherwise.
    #[must_use]
    pub fn end_at_schedule_end(&self) -> EndReason {
        if self.remaining == 0 {
            EndReason::SoldOut
        } else {
            EndReason::FloorReached
        }
    }
}

/// A reservation's state. `Held` moves once, to `Confirmed` or `Released`; neither moves again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum HoldState {
    /// Won, not yet paid for, within its time.
    Held,
    /// Paid for: final.
    Confirmed,
    /// Lapsed: its item went back to the room or is unsold.
    Released,
}

/// What a confirmation of a hold in `state`, expiring at `expires_at`, gets at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfirmDecision {
    /// Confirm it now.
    Confirm,
    /// It was confirmed before: answer as then (a confirmation is idempotent).
    AlreadyConfirmed,
    /// Too late: its time is over (released or not yet swept).
    Expired,
}

/// Decides a confirmation. A hold holds up to, not including, `expires_at` (as
/// [`super::bid::Reservation::is_expired`] says).
#[must_use]
pub fn decide_confirm(
    state: HoldState,
    expires_at: EpochMillis,
    now: EpochMillis,
) -> ConfirmDecision {
    match state {
        HoldState::Confirmed => ConfirmDecision::AlreadyConfirmed,
        HoldState::Released => ConfirmDecision::Expired,
        HoldState::Held if now >= expires_at => ConfirmDecision::Expired,
        HoldState::Held => ConfirmDecision::Confirm,
    }
}

/// Whether the sweep may release a hold in `state` expiring at `expires_at`, at `now`: only a
/// held one whose time is over, so confirmation and release never both apply.
#[must_use]
pub fn may_release(state: HoldState, expires_at: EpochMillis, now: EpochMillis) -> bool {
    state == HoldState::Held && now >= expires_at
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hold_is_confirmed_or_released_never_both() {
        let expires = EpochMillis(10_000);
        for now in [EpochMillis(9_999), EpochMillis(10_000), EpochMillis(20_000)] {
            let confirm = decide_confirm(HoldState::Held, expires, now) == ConfirmDecision::Confirm;
            let release = may_release(HoldState::Held, expires, now);
            assert!(confirm != release, "exactly one at {now:?}");
        }
        assert_eq!(
            decide_confirm(HoldState::Confirmed, expires, EpochMillis(99_999)),
            ConfirmDecision::AlreadyConfirmed
        );
        assert_eq!(
            decide_confirm(HoldState::Released, expires, EpochMillis(0)),
            ConfirmDecision::Expired
        );
        assert!(!may_release(
            HoldState::Confirmed,
            expires,
            EpochMillis(99_999)
        ));
        assert!(!may_release(
            HoldState::Released,
            expires,
            EpochMillis(99_999)
        ));
    }

    #[test]
    fn the_last_item_held_then_released_comes_back_and_the_counts_only_grow() {
        let mut counts = ItemCounts::new(2);
        counts.sell().unwrap();
        counts.sell().unwrap();
        assert!(counts.all_reserved() && !counts.sold_out());
        assert_eq!(counts.sell(), Err(ItemMoveError::NoneAvailable));
        counts.release(Release::Returned).unwrap();
        assert_eq!((counts.remaining, counts.sold, counts.released), (1, 2, 1));
        assert!(!counts.all_reserved());
        counts.sell().unwrap();
        counts.confirm().unwrap();
        counts.confirm().unwrap();
        assert!(counts.sold_out());
        assert_eq!(counts.confirm(), Err(ItemMoveError::NoneHeld));
        assert!(counts.add_up());
        assert_eq!(
            counts.remaining + counts.sold,
            counts.total + counts.released
        );
    }

    #[test]
    fn the_schedule_end_is_sold_out_only_when_nothing_was_available() {
        let mut counts = ItemCounts::new(1);
        assert_eq!(counts.end_at_schedule_end(), EndReason::FloorReached);
        counts.sell().unwrap();
        assert_eq!(counts.end_at_schedule_end(), EndReason::SoldOut);
        // A hold lapsing after the end leaves its item unsold, not available.
        counts.release(Release::Unsold).unwrap();
        assert_eq!((counts.remaining, counts.unsold), (0, 1));
        assert!(counts.sold_out() && counts.add_up());
    }

    #[test]
    fn any_sequence_of_moves_keeps_the_counts_adding_up() {
        // Every sequence of up to 8 moves over 3 items (4^8 = 65,536 of them), each move applied
        // only when the counts allow it, as the store's conditions do.
        for code in 0_u32..65_536 {
            let mut counts = ItemCounts::new(3);
            let (mut sold, mut released) = (0, 0);
            for step in 0..8 {
                let before = counts;
                let moved = match (code >> (2 * step)) & 3 {
                    0 => counts.sell(),
                    1 => counts.confirm(),
                    2 => counts.release(Release::Returned),
                    _ => counts.release(Release::Unsold),
                };
                if moved.is_err() {
                    assert_eq!(counts, before, "a refused move changes nothing");
                }
                assert!(counts.add_up(), "{counts:?} after {code:#x} step {step}");
                assert!(counts.sold >= sold && counts.released >= released);
                (sold, released) = (counts.sold, counts.released);
            }
        }
    }
}
