//! Fault injection for the emulator: throttling (429/503/504 with `Retry-After`
//! as seconds or HTTP-date), 401 (expired token), slow responses, malformed JSON,
//! oversized pages and nextLinks pointing to another host. Applies to Graph
//! endpoints (`/v1.0/…`) only; changeable at runtime through the handle.
//!
//! The request-level faults apply to HTTP requests (a `$batch` POST is one);
//! the `batch_*` faults apply to the members inside a `$batch`, which Graph
//! evaluates one by one ("Requests in a batch are evaluated individually
//! against throttling limits", Microsoft Graph throttling guidance).

use std::str::FromStr;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

/// How a throttled response states `Retry-After`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RetryAfter {
    /// No header: the client must back off on its own.
    #[default]
    None,
    /// `Retry-After: <n>`
    Seconds(u64),
    /// `Retry-After: <HTTP-date n seconds from now>`
    HttpDate(u64),
}

impl RetryAfter {
    pub fn header_value(&self) -> Option<String> {
        match *self {
            RetryAfter::None => None,
            RetryAfter::Seconds(n) => Some(n.to_string()),
            RetryAfter::HttpDate(n) => {
                Some(httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(n)))
            }
        }
    }
}

/// How long a `Retry-After` value (seconds or an HTTP date) asks a client to wait.
pub(crate) fn retry_after_duration(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(n) = v.parse::<u64>() {
        return Some(Duration::from_secs(n));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(at.duration_since(SystemTime::now()).unwrap_or_default())
}

/// The fault configuration. `Default` = no faults.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Faults {
    /// Throttle the next N Graph requests.
    pub throttle_next: u32,
    /// Throttle every Kth Graph request (counting all Graph requests; 0 = off).
    pub throttle_every: u32,
    /// Status for throttled responses: 429 (default), 503 or 504.
    pub throttle_status: u16,
    /// `Retry-After` on throttled responses.
    pub retry_after: RetryAfter,
    /// Answer the next N Graph requests with 401 InvalidAuthenticationToken (token expired).
    pub unauthorized_next: u32,
    /// Delay every Graph response by this many milliseconds.
    pub delay_ms: u64,
    /// Break the JSON of the next N successful Graph responses.
    pub malformed_next: u32,
    /// Pad the next N successful Graph responses to `oversize_bytes`.
    pub oversize_next: u32,
    pub oversize_bytes: u64,
    /// Origin (e.g. `http://127.0.0.1:9`) put into nextLink/deltaLink instead of ours.
    pub foreign_next_link: Option<String>,
    /// Answer the next N `$batch` members with 429 (`Retry-After` as `retry_after`
    /// says, in the member's `headers`).
    pub batch_throttle_next: u32,
    /// Throttle every Kth `$batch` member (counting all members; 0 = off).
    pub batch_throttle_every: u32,
    /// Answer the next N `$batch` members with `batch_error_status`.
    pub batch_error_next: u32,
    /// Status for those members: 500 (default), 502, 503 or 504.
    pub batch_error_status: u16,
}

/// What the fault layer decided for one request.
#[derive(Debug, Default)]
pub(crate) struct Decision {
    pub throttle: Option<(u16, Option<String>)>,
    pub unauthorized: bool,
    pub delay: Option<Duration>,
    pub malformed: bool,
    pub oversize: Option<u64>,
}

/// What the fault layer decided for one `$batch` member.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum MemberFault {
    None,
    /// 429 with this `Retry-After` (if any).
    Throttle(Option<String>),
    /// A server error with this status.
    Error(u16),
}

impl Faults {
    /// Decide for the `n`th `$batch` member (1-based) and consume one-shot counters.
    pub(crate) fn decide_member(&mut self, n: u64) -> MemberFault {
        let every =
            self.batch_throttle_every > 0 && n.is_multiple_of(u64::from(self.batch_throttle_every));
        if self.batch_throttle_next > 0 || every {
            if self.batch_throttle_next > 0 {
                self.batch_throttle_next -= 1;
            }
            return MemberFault::Throttle(self.retry_after.header_value());
        }
        if self.batch_error_next > 0 {
            self.batch_error_next -= 1;
            let status = match self.batch_error_status {
                502..=504 => self.batch_error_status,
                _ => 500,
            };
            return MemberFault::Error(status);
        }
        MemberFault::None
    }

    /// Decide for the `n`th Graph request (1-based) and consume one-shot counters.
    pub(crate) fn decide(&mut self, n: u64) -> Decision {
        let mut d = Decision::default();
        if self.delay_ms > 0 {
            d.delay = Some(Duration::from_millis(self.delay_ms));
        }
        if self.unauthorized_next > 0 {
            self.unauthorized_next -= 1;
            d.unauthorized = true;
            return d;
        }
        let every = self.throttle_every > 0 && n.is_multiple_of(u64::from(self.throttle_every));
        if self.throttle_next > 0 || every {
            if self.throttle_next > 0 {
                self.throttle_next -= 1;
            }
            let status = match self.throttle_status {
                503 => 503,
                504 => 504,
                _ => 429,
            };
            d.throttle = Some((status, self.retry_after.header_value()));
            return d;
        }
        d
    }

    /// Consume the post-processing faults for a successful response.
    pub(crate) fn decide_body(&mut self, d: &mut Decision) {
        if self.malformed_next > 0 {
            self.malformed_next -= 1;
            d.malformed = true;
        } else if self.oversize_next > 0 {
            self.oversize_next -= 1;
            d.oversize = Some(self.oversize_bytes.max(1024));
        }
    }
}

/// Every key `--faults` accepts, as the parser below spells them (the CLI's help
/// lists them; a test keeps the two in step).
pub const FAULT_KEYS: &[&str] = &[
    "throttle_next",
    "throttle_every",
    "throttle_status",
    "retry_after",
    "unauthorized_next",
    "delay_ms",
    "malformed_next",
    "oversize_next",
    "oversize_bytes",
    "foreign_next_link",
    "batch_throttle_next",
    "batch_throttle_every",
    "batch_error_next",
    "batch_error_status",
];

/// `key=value` pairs separated by commas, for the CLI, e.g.
/// `throttle_next=3,retry_after=2,delay_ms=100` or `retry_after=date:5`.
/// Keys: [`FAULT_KEYS`]; retry_after takes `N`, `date:N` or `none`.
impl FromStr for Faults {
    type Err = String;
    fn from_str(s: &str) -> Result<Faults, String> {
        let mut f = Faults::default();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) =
                part.split_once('=').ok_or_else(|| format!("fault '{part}' is not key=value"))?;
            let num = |v: &str| {
                v.trim().parse::<u64>().map_err(|_| format!("fault {k}: '{v}' is not a number"))
            };
            let n32 = |v: &str| {
                num(v).and_then(|n| u32::try_from(n).map_err(|_| format!("fault {k}: too large")))
            };
            match k.trim().replace('-', "_").as_str() {
                "throttle_next" => f.throttle_next = n32(v)?,
                "throttle_every" => f.throttle_every = n32(v)?,
                "throttle_status" => f.throttle_status = n32(v)? as u16,
                "retry_after" => {
                    f.retry_after = match v.trim() {
                        "none" | "" => RetryAfter::None,
                        x if x.starts_with("date:") => RetryAfter::HttpDate(num(&x[5..])?),
                        x => RetryAfter::Seconds(num(x)?),
                    }
                }
                "unauthorized_next" => f.unauthorized_next = n32(v)?,
                "delay_ms" => f.delay_ms = num(v)?,
                "malformed_next" => f.malformed_next = n32(v)?,
                "oversize_next" => f.oversize_next = n32(v)?,
                "oversize_bytes" => f.oversize_bytes = num(v)?,
                "foreign_next_link" => f.foreign_next_link = Some(v.trim().to_string()),
                "batch_throttle_next" => f.batch_throttle_next = n32(v)?,
                "batch_throttle_every" => f.batch_throttle_every = n32(v)?,
                "batch_error_next" => f.batch_error_next = n32(v)?,
                "batch_error_status" => f.batch_error_status = n32(v)? as u16,
                other => {
                    return Err(format!(
                        "unknown fault '{other}' (keys: {})",
                        FAULT_KEYS.join(", ")
                    ));
                }
            }
        }
        Ok(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_faults() {
        let mut f: Faults =
            "batch_throttle_next=1,retry_after=3,batch_error_next=1,batch_error_status=503"
                .parse()
                .unwrap();
        assert_eq!(f.decide_member(1), MemberFault::Throttle(Some("3".into())));
        assert_eq!(f.decide_member(2), MemberFault::Error(503));
        assert_eq!(f.decide_member(3), MemberFault::None);
        f.batch_throttle_every = 2;
        assert_eq!(f.decide_member(4), MemberFault::Throttle(Some("3".into())));
        assert_eq!(f.decide_member(5), MemberFault::None);
        assert!("batch_error_next=x".parse::<Faults>().is_err());
    }
}
