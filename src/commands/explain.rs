//! explain
pub fn explain(_a: &crate::cli::ExplainArgs) -> i32 {
    0
}
