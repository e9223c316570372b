//! The service's stable event codes (also in the error registry, `dwb docs`).

pub const ROUND_FAILED: &str = "DWB-SVC-0001";
pub const ROUND_REFUSED: &str = "DWB-SVC-0002";
pub const CHANGES_FAILED: &str = "DWB-SVC-0003";
pub const RECOVERED: &str = "DWB-SVC-0004";
pub const QUARANTINED: &str = "DWB-SVC-0005";
pub const ROUND: &str = "DWB-SVC-0010";
