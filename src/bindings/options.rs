//! The one reader of a binding's options map (`#{ key: value }`): an unknown
//! key is an error with a did-you-mean, and a value of the wrong type is an
//! error naming the key, the type expected and the type given — never a
//! silent default (`take_over: "true"` used to become `false`).
//!
//! A key whose value is `()` counts as not given, so scripts can pass a
//! parameter through unchanged.

use rhai::{Dynamic, ImmutableString, Map};

use crate::directory::Dn;
use crate::error::{Error, Kind, Result, did_you_mean};

/// An options map checked against the keys a binding takes.
pub struct Options<'a> {
    map: &'a Map,
    func: &'a str,
}

impl<'a> Options<'a> {
    /// Checks `map`'s keys against `keys` (unknown key: `unknown_option` with the
    /// closest known key and the whole list in the hint).
    pub fn read(map: &'a Map, func: &'a str, keys: &[&str]) -> Result<Options<'a>> {
        for k in map.keys() {
            if !keys.contains(&k.as_str()) {
                let mut msg = format!("{func}: unknown option `{k}`");
                if let Some(s) = did_you_mean(k, keys.iter().copied()) {
                    msg.push_str(&format!("; did you mean `{s}`?"));
                }
                return Err(Error::new(Kind::UnknownOption, msg)
                    .with_hint(format!("{func} takes: {}", keys.join(", "))));
            }
        }
        Ok(Options { map, func })
    }

    /// The value of `key`, of any type; `None` when absent or `()`.
    pub fn value(&self, key: &str) -> Option<&'a Dynamic> {
        self.map.get(key).filter(|v| !v.is_unit())
    }

    /// The error for `key` holding `v` where `expected` was wanted.
    pub fn wrong_type(&self, key: &str, expected: &str, v: &Dynamic) -> Error {
        Error::invalid_argument(format!(
            "{}: `{key}` must be {expected}, not {}",
            self.func,
            given(v)
        ))
    }

    /// An error about `key`'s value that is of the right type but out of range.
    pub fn invalid(&self, key: &str, why: impl std::fmt::Display) -> Error {
        Error::invalid_argument(format!("{}: `{key}` {why}", self.func))
    }

    /// `true` / `false`.
    pub fn bool(&self, key: &str) -> Result<Option<bool>> {
        self.typed(key, "a bool (true or false)", |v| v.as_bool().ok())
    }

    /// An integer.
    pub fn int(&self, key: &str) -> Result<Option<i64>> {
        self.typed(key, "an integer", |v| v.as_int().ok())
    }

    /// An integer within `range`.
    pub fn int_in(&self, key: &str, range: std::ops::RangeInclusive<i64>) -> Result<Option<i64>> {
        match self.int(key)? {
            Some(n) if !range.contains(&n) => Err(self.invalid(
                key,
                format_args!("is {n}; it must be from {} to {}", range.start(), range.end()),
            )),
            n => Ok(n),
        }
    }

    /// A string.
    pub fn string(&self, key: &str) -> Result<Option<String>> {
        self.typed(key, "a string", |v| v.read_lock::<ImmutableString>().map(|s| s.to_string()))
    }

    /// One of `choices` (a string).
    pub fn choice(&self, key: &str, choices: &[&str]) -> Result<Option<String>> {
        match self.string(key)? {
            Some(s) if !choices.contains(&s.as_str()) => {
                let quoted: Vec<String> = choices.iter().map(|c| format!("\"{c}\"")).collect();
                Err(self
                    .invalid(key, format_args!("is \"{s}\"; it must be {}", quoted.join(" or "))))
            }
            s => Ok(s),
        }
    }

    /// A DN, from a `Dn` or a string; an empty string counts as not given.
    pub fn dn(&self, key: &str) -> Result<Option<Dn>> {
        let Some(v) = self.value(key) else { return Ok(None) };
        if let Some(dn) = v.read_lock::<Dn>() {
            return Ok(Some(dn.clone()));
        }
        match v.read_lock::<ImmutableString>() {
            Some(s) if s.is_empty() => Ok(None),
            Some(s) => Dn::parse(s.as_str()).map(Some),
            None => Err(self.wrong_type(key, "a Dn or a string", v)),
        }
    }

    /// A map.
    pub fn map(&self, key: &str) -> Result<Option<Map>> {
        self.typed(key, "a map", |v| v.read_lock::<Map>().map(|m| m.clone()))
    }

    fn typed<T>(
        &self,
        key: &str,
        expected: &str,
        get: impl Fn(&Dynamic) -> Option<T>,
    ) -> Result<Option<T>> {
        match self.value(key) {
            None => Ok(None),
            Some(v) => get(v).map(Some).ok_or_else(|| self.wrong_type(key, expected, v)),
        }
    }
}

/// A value's type as scripts name it, with a short rendering:
/// `a string ("true")`, `an integer (0)`.
pub fn given(v: &Dynamic) -> String {
    let name = script_type(v);
    let article = if name.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" };
    let text: String = v.to_string().chars().take(40).collect();
    let text = crate::text::visible(&text);
    if v.is_string() {
        format!("{article} {name} (\"{text}\")")
    } else {
        format!("{article} {name} ({text})")
    }
}

/// The script-facing name of a value's type (`string`, `integer`, `Dn`, …).
pub fn script_type(v: &Dynamic) -> String {
    if v.is_string() || v.is_char() {
        return "string".into();
    }
    if v.is_int() {
        return "integer".into();
    }
    if v.is_bool() {
        return "bool".into();
    }
    if v.is_float() {
        return "float".into();
    }
    if v.is_array() {
        return "array".into();
    }
    if v.is_map() {
        return "map".into();
    }
    // Custom types: the last segment of the Rust path (`dwb::directory::dn::Dn` → `Dn`).
    let name = v.type_name();
    name.rsplit("::").next().unwrap_or(name).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, Dynamic)]) -> Map {
        pairs.iter().map(|(k, v)| ((*k).into(), v.clone())).collect()
    }

    #[test]
    fn unknown_key_suggests_the_closest() {
        let m = map(&[("take_ovr", true.into())]);
        let e = Options::read(&m, "f", &["take_over", "owners"]).err().map(|e| (e.kind, e.message));
        assert_eq!(
            e,
            Some((
                Kind::UnknownOption,
                "f: unknown option `take_ovr`; did you mean `take_over`?".into()
            ))
        );
    }

    #[test]
    fn wrong_types_name_the_key_the_expected_and_the_given_type() {
        let m = map(&[("take_over", "true".into()), ("owners", Dynamic::from(0_i64))]);
        let o = Options::read(&m, "writeback::sync_devices", &["take_over", "owners"]);
        let Ok(o) = o else { unreachable!("the keys are known") };
        let e = o.bool("take_over").err().map(|e| (e.kind, e.message));
        assert_eq!(
            e,
            Some((
                Kind::InvalidArgument,
                "writeback::sync_devices: `take_over` must be a bool (true or false), not a string (\"true\")".into()
            ))
        );
        let e = o.bool("owners").err().map(|e| e.message);
        assert_eq!(
            e.as_deref(),
            Some(
                "writeback::sync_devices: `owners` must be a bool (true or false), not an integer (0)"
            )
        );
    }

    #[test]
    fn unit_and_absent_are_not_given() {
        let m = map(&[("days", Dynamic::UNIT)]);
        let Ok(o) = Options::read(&m, "f", &["days", "container"]) else { unreachable!() };
        assert!(matches!(o.int("days"), Ok(None)));
        assert!(matches!(o.dn("container"), Ok(None)));
    }

    #[test]
    fn ranges_and_choices_are_checked() {
        let m = map(&[("port", Dynamic::from(0_i64)), ("mode", "fast".into())]);
        let Ok(o) = Options::read(&m, "f", &["port", "mode"]) else { unreachable!() };
        let e = o.int_in("port", 1..=65535).err().map(|e| e.message);
        assert_eq!(e.as_deref(), Some("f: `port` is 0; it must be from 1 to 65535"));
        let e = o.choice("mode", &["full", "delta"]).err().map(|e| e.message);
        assert_eq!(e.as_deref(), Some("f: `mode` is \"fast\"; it must be \"full\" or \"delta\""));
    }
}
