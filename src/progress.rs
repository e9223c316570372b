//! The progress lines of long work on a terminal (Graph listings, mapping,
//! applies): one style for all, with a rate people read at a glance
//! (`1234/s`, not indicatif's `1,234.5678/s`).

use indicatif::ProgressStyle;

/// A rate as the progress lines show it: whole units from 10 a second up,
/// one decimal below.
pub fn rate(per_sec: f64) -> String {
    if !per_sec.is_finite() || per_sec <= 0.0 {
        "0/s".into()
    } else if per_sec < 10.0 {
        format!("{per_sec:.1}/s")
    } else {
        format!("{per_sec:.0}/s")
    }
}

/// The style of `template`, where `{rate}` is [`rate`] of the bar's speed;
/// `None` when the template is wrong (the bar keeps indicatif's default).
pub fn style(template: &str) -> Option<ProgressStyle> {
    let style = ProgressStyle::with_template(template).ok()?;
    Some(style.with_key("rate", |s: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
        let _ = w.write_str(&rate(s.per_sec()));
    }))
}

#[cfg(test)]
mod tests {
    #[test]
    fn rates_read_at_a_glance() {
        assert_eq!(super::rate(10_724.388_8), "10724/s");
        assert_eq!(super::rate(2.54), "2.5/s");
        assert_eq!(super::rate(0.0), "0/s");
        assert_eq!(super::rate(f64::NAN), "0/s");
    }
}
