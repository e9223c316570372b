//! dwb's typed values in scripts: `Dn`, `Guid`, `Sid`, `Filter`, `Entry` and
//! `SecurityDescriptor`, with their methods and properties (one file each).

mod dn;
mod entry;
mod filter;
mod guid;
mod sd;
mod sid;

use rhai::{FnNamespace, Module};

use crate::bindings::values::{EntryValue, SdValue};
use crate::directory::{Dn, Filter, Guid, Sid};

/// Methods are global: `dn.parent()` works without a module prefix.
const G: FnNamespace = FnNamespace::Global;

/// The global module holding the types' methods.
pub fn module() -> Module {
    let mut m = Module::new();
    m.set_custom_type::<Dn>("Dn");
    m.set_custom_type::<Guid>("Guid");
    m.set_custom_type::<Sid>("Sid");
    m.set_custom_type::<Filter>("Filter");
    m.set_custom_type::<EntryValue>("Entry");
    m.set_custom_type::<SdValue>("SecurityDescriptor");
    dn::register(&mut m);
    dn::register_operators(&mut m);
    guid::register(&mut m);
    sid::register(&mut m);
    filter::register(&mut m);
    entry::register(&mut m);
    sd::register(&mut m);
    m
}
