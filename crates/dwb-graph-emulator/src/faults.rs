//! Fault injection for the emulator: throttling (429/503/504 with `Retry-After`
//! as seconds or HTTP-date), 401 (expired token), slow responses, malformed JSON,
//! oversized pages and nextLinks pointing to another host. Applies to Graph
//! endpoints (`/v1.0/…`) only; changeable at runtime through the handle.

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

impl Faults {
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

/// `key=value` pairs separated by commas, for the CLI, e.g.
/// `throttle_next=3,retry_after=2,delay_ms=100` or `retry_after=date:5`.
/// Keys: throttle_next, throttle_every, throttle_status, retry_after (`N`, `date:N`,
/// `none`), unauthorized_next, delay_ms, malformed_next, oversize_next,
/// oversize_bytes, foreign_next_link.
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
                other => return Err(format!("unknown fault '{other}'")),
            }
        }
        Ok(f)
    }
}
