//! Device writeback: Entra devices → `msDS-Device` objects in the device
//! container (docs/device-writeback.md §B). `sync` is the workflow (source → scope →
//! map → diff → plan), `hooks` the site's say in it, `fetch` the Graph reads
//! besides the listing, `delta` the incremental rounds (with `hints`, the
//! deviceIds they remember), `mapping` turns a device into attributes, `state`
//! reads what the container holds, `diff` compares, and `planner` turns the
//! comparison into creates, per-attribute modifies and guarded deletes;
//! `contest` stops dwb reverting what another writer keeps changing;
//! `arrivals` finds the objects another writer added after an adoption;
//! `forms` reads every byte form another writer may have used (and the
//! container's convention for new values);
//! `stale` compares Entra's last sign-ins with the objects' timestamps (verify).
//! `request` holds what both kinds of round share (the request, the context,
//! the round's result) and `mapper` their per-device work, so that `sync` (the
//! full round) imports `delta` and never the other way round.
//!
//! Ownership: dwb only ever modifies or deletes objects in the container that
//! carry a cloud anchor (`msDS-CloudAnchor`, the attribute Entra Connect keys on)
//! *and* dwb's marker (`adminDescription`); objects with an anchor but no marker
//! belong to another writer and are left alone unless `take_over` is set.

pub mod arrivals;
pub mod contest;
pub mod delta;
pub mod diff;
pub mod explain;
pub mod fence;
pub mod fetch;
pub mod forms;
pub mod hints;
pub mod hooks;
pub mod lock;
mod mapper;
pub mod mapping;
pub mod planner;
mod request;
pub mod stale;
pub mod state;
pub mod sync;
