//! Device writeback: Entra devices → `msDS-Device` objects in the device
//! container (device-writeback.md §B). `mapping` turns a device into
//! attributes, `diff` compares them with what is stored, and `engine` plans a
//! whole sync: creates, per-attribute modifies and guarded deletes.
//!
//! Ownership: dwb only ever modifies or deletes objects in the container that
//! carry a cloud anchor (`msDS-CloudAnchor`, the attribute Entra Connect keys on)
//! *and* dwb's marker (`adminDescription`); objects with an anchor but no marker
//! belong to another writer and are left alone unless `take_over` is set.

pub mod diff;
pub mod engine;
pub mod mapping;
