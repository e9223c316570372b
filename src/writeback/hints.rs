//! Which deviceId each Entra device has, as last read, kept beside a delta
//! state file (`<state>.ids`). An incremental delta round carries only the
//! changed properties of a device, and its object in AD can be found cheaply
//! only by deviceId (msDS-DeviceID and CN are indexed, the cloud anchor is not):
//! with these hints the objects of changed devices are looked up while Graph is
//! asked for the whole devices, instead of after. The spec's "local cache keyed
//! by id" (docs/device-writeback.md §C.6), kept to ids: a deviceId never changes.
//!
//! Only a hint: a device it lacks, or has wrong, is found as without it (its
//! anchor is searched for). A missing or unreadable file is an empty one.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::directory::Guid;
use crate::graph::Device;

pub struct IdHints {
    path: PathBuf,
    ids: HashMap<String, Guid>,
    changed: bool,
}

impl IdHints {
    /// The hints kept beside `state`.
    pub fn load(state: &Path) -> IdHints {
        let mut name = state.as_os_str().to_owned();
        name.push(".ids");
        let path = PathBuf::from(name);
        let ids = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice::<HashMap<String, String>>(&b).ok())
            .map(|m| m.into_iter().filter_map(|(id, g)| Some((id, g.parse().ok()?))).collect())
            .unwrap_or_default();
        IdHints { path, ids, changed: false }
    }

    /// No hints: none kept yet (or the file was lost).
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    pub fn get(&self, id: &str) -> Option<Guid> {
        self.ids.get(id).copied()
    }

    /// Starts over from a whole listing (a round that is not incremental).
    pub fn reset(&mut self) {
        self.changed |= !self.ids.is_empty();
        self.ids.clear();
    }

    /// Remembers a device's deviceId (a device without one is forgotten).
    pub fn note(&mut self, d: &Device) {
        match d.device_id.as_deref().and_then(|g| g.parse::<Guid>().ok()) {
            Some(g) => {
                if self.ids.insert(d.id.clone(), g) != Some(g) {
                    self.changed = true;
                }
            }
            None => self.forget(&d.id),
        }
    }

    pub fn forget(&mut self, id: &str) {
        self.changed |= self.ids.remove(id).is_some();
    }

    /// Writes the hints if they changed (atomically). A failure costs only speed
    /// next round: it is logged, not raised.
    pub fn save(&self) {
        if !self.changed {
            return;
        }
        let map: HashMap<&str, String> =
            self.ids.iter().map(|(id, g)| (id.as_str(), g.to_string())).collect();
        let written = serde_json::to_vec(&map).map_err(|e| e.to_string()).and_then(|b| {
            crate::graph::delta::write_atomic(&self.path, &b).map_err(|e| e.to_string())
        });
        if let Err(e) = written {
            tracing::warn!("could not keep the device id hints in {}: {e}", self.path.display());
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn device(id: &str, device_id: Option<&str>) -> Device {
        let mut v = serde_json::json!({ "id": id });
        if let Some(g) = device_id {
            v["deviceId"] = g.into();
        }
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn hints_survive_a_save_and_a_broken_file_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state.json");
        let g = "c8051501-239a-4ddf-b1d6-0f0a2c142580";
        let mut h = IdHints::load(&state);
        assert_eq!(h.get("a"), None);
        h.note(&device("a", Some(g)));
        h.note(&device("b", None));
        h.save();
        let h = IdHints::load(&state);
        assert_eq!(h.get("a"), Some(g.parse().unwrap()));
        assert_eq!(h.get("b"), None);

        std::fs::write(dir.path().join("state.json.ids"), b"{not json").unwrap();
        assert_eq!(IdHints::load(&state).get("a"), None);
    }

    #[test]
    fn an_unchanged_set_is_not_written_again() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state.json");
        let g = "c8051501-239a-4ddf-b1d6-0f0a2c142580";
        let mut h = IdHints::load(&state);
        h.note(&device("a", Some(g)));
        h.save();
        let mut h = IdHints::load(&state);
        h.note(&device("a", Some(g)));
        h.forget("nobody");
        assert!(!h.changed);
        h.forget("a");
        assert!(h.changed);
    }
}
