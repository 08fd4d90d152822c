//! A count per key under a cap, given back when dropped: the upload gates count bodies
//! per dossier and per client with it, the staff's downloads per agent. Per process on
//! purpose: it bounds a server's capacity, it is no rule of the Centre.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard},
};

/// How many each key holds now; only keys holding one or more are in the table.
#[derive(Clone, Default)]
pub(crate) struct Counts(Arc<Mutex<HashMap<String, u32>>>);

impl Counts {
    /// One more for `key`, or `None` when it already has `cap`.
    pub(crate) fn take(&self, key: &str, cap: u32) -> Option<Slot> {
        let mut table = self.table();
        let count = table.entry(key.to_string()).or_default();
        if *count >= cap {
            return None;
        }
        *count += 1;
        Some(Slot {
            key: key.to_string(),
            counts: self.clone(),
        })
    }

    /// What `key` holds now, `None` when nothing.
    #[cfg(test)]
    pub(crate) fn of(&self, key: &str) -> Option<u32> {
        self.table().get(key).copied()
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.table().is_empty()
    }

    fn table(&self) -> MutexGuard<'_, HashMap<String, u32>> {
        // A panic while the table was held left it consistent: each change is one line.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One counted for a key; given back when dropped.
pub(crate) struct Slot {
    key: String,
    counts: Counts,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut table = self.counts.table();
        if let Some(count) = table.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                table.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_holds_up_to_its_cap_and_leaves_the_table_at_zero() {
        let counts = Counts::default();
        let first = counts.take("a", 2).expect("one");
        let second = counts.take("a", 2).expect("two");
        assert!(counts.take("a", 2).is_none());
        let other = counts.take("b", 2).expect("another key is not touched");
        drop(first);
        assert_eq!(counts.of("a"), Some(1));
        let again = counts.take("a", 2).expect("a place given back");
        drop((second, again, other));
        assert!(counts.is_empty());
    }
}
