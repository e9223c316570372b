//! The site's say in a sync: whether a device is in scope, and the attributes
//! it is written with. The script binding implements this with the site's Rhai
//! functions (`in_scope(device)`, `map_device(device, attrs)`); native callers
//! use [`NoHooks`].

use crate::directory::Attr;
use crate::error::Result;
use crate::graph::Device;

/// What the site's mapping made of a device.
pub enum Mapped {
    /// Write the device with these attributes.
    Attrs(Vec<Attr>),
    /// The site skips the device.
    Skip,
}

/// The site hooks a sync consults for each device, in this order.
pub trait SiteHooks {
    /// `Ok(None)` when the site has no scope rule (every mappable device is in scope).
    fn in_scope(&mut self, device: &Device) -> Result<Option<bool>>;
    /// The site's attributes for `device`, starting from dwb's own mapping.
    fn map_device(&mut self, device: &Device, attrs: Vec<Attr>) -> Result<Mapped>;
}

/// No site rules: dwb's own scope and mapping.
pub struct NoHooks;

impl SiteHooks for NoHooks {
    fn in_scope(&mut self, _device: &Device) -> Result<Option<bool>> {
        Ok(None)
    }

    fn map_device(&mut self, _device: &Device, attrs: Vec<Attr>) -> Result<Mapped> {
        Ok(Mapped::Attrs(attrs))
    }
}
