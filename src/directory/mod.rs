//! The directory domain model: pure types with no I/O. DNs, GUIDs and SIDs
//! are typed so escaping and byte order cannot be forgotten; entries hold raw
//! bytes and attribute syntaxes decide how they are shown.

pub mod dn;
pub mod entry;
pub mod filetime;
pub mod filter;
pub mod guid;
pub mod ldif;
pub mod security;
pub mod sid;
pub mod syntax;

pub use dn::Dn;
pub use entry::{Attr, Entry};
pub use filetime::FileTime;
pub use filter::Filter;
pub use guid::Guid;
pub use sid::Sid;
