//! Which changes of a plan write to which object. The planned view reads an
//! object's pending writes through it, by reference, instead of copying every
//! write of the plan on each read a script makes (quadratic over a script's writes).

use std::collections::HashMap;

use super::Change;

/// The plan's directory writes by object. It follows the plan's changes as they
/// are pushed or appended (`catch_up`); changes are never removed or re-ordered
/// during a run, and if the list got shorter the index is rebuilt.
#[derive(Debug, Clone, Default)]
pub struct WriteIndex {
    /// How many of the plan's changes are indexed.
    covered: usize,
    /// Normalised DN → the positions of the changes writing to it, ascending.
    by_dn: HashMap<String, Vec<usize>>,
    /// The position of the first write to each object, in plan order.
    first_writes: Vec<usize>,
}

impl WriteIndex {
    /// Indexes the changes added since the last call.
    pub(super) fn catch_up(&mut self, changes: &[Change]) {
        if self.covered > changes.len() {
            *self = WriteIndex::default();
        }
        for (i, c) in changes.iter().enumerate().skip(self.covered) {
            let Some(dn) = c.op.write_dn() else { continue };
            let writes = self.by_dn.entry(dn.norm()).or_default();
            if writes.is_empty() {
                self.first_writes.push(i);
            }
            writes.push(i);
        }
        self.covered = changes.len();
    }

    /// How many changes the index covers: a reader that keeps this number sees
    /// the plan as it was then, whatever is pushed while it reads.
    pub fn covered(&self) -> usize {
        self.covered
    }

    /// Whether no change writes to the directory.
    pub fn is_empty(&self) -> bool {
        self.first_writes.is_empty()
    }

    /// The positions of the changes among the first `upto` writing to `dn`
    /// (normalised), in plan order.
    pub fn writes_to<'a>(&'a self, norm: &str, upto: usize) -> impl Iterator<Item = usize> + 'a {
        let writes = self.by_dn.get(norm).map(Vec::as_slice).unwrap_or_default();
        writes.iter().copied().take_while(move |&i| i < upto)
    }

    /// Whether one of the first `upto` changes writes to `dn` (normalised).
    pub fn touches(&self, norm: &str, upto: usize) -> bool {
        self.writes_to(norm, upto).next().is_some()
    }

    /// The objects the first `upto` changes write to, each once, in the order
    /// of their first write (as the positions of those first writes).
    pub fn first_writes(&self, upto: usize) -> impl Iterator<Item = usize> + '_ {
        self.first_writes.iter().copied().take_while(move |&i| i < upto)
    }
}
