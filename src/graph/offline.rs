//! Read devices from exported Graph JSON instead of a live tenant.
//!
//! Accepted shapes (any of them, several top-level values may follow each other,
//! separated by whitespace or newlines — i.e. concatenated JSON or NDJSON):
//! * a Graph page `{"value":[device, …], "@odata.nextLink": …}` (Graph Explorer,
//!   `Invoke-MgGraphRequest`); links are ignored;
//! * a JSON array of such pages `[{"value":[…]}, {"value":[…]}]`;
//! * a bare array of devices `[device, …]` (`Get-MgDevice -All | ConvertTo-Json -Depth 5`);
//! * a single device object (`ConvertTo-Json` of one result).
//!
//! PowerShell's PascalCase property names (`Id`, `DeviceId`, `AlternativeSecurityIds`
//! with `Type`/`IdentityProvider`/`Key`) are accepted; `Key` may be a base64 string or
//! a byte array; `AdditionalProperties` is merged in. The file may be UTF-8 (with or
//! without BOM) or UTF-16 with BOM (Windows PowerShell 5.1 `>` redirection).

use std::path::Path;

use serde_json::{Map, Value};

use super::error::{GraphError, Reason, Result};
use super::model::{Device, type_name};

/// Read devices from a file (see the module docs for the accepted shapes).
pub fn devices_from_file(path: impl AsRef<Path>) -> Result<Vec<Device>> {
    let path = path.as_ref();
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| {
        GraphError::new(Reason::Io, format!("cannot read the device file: {e}"))
            .with_file(name.clone())
            .with_source(e)
    })?;
    // Plain UTF-8 (the usual case) is used in place: no second copy of a large export.
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => decode_text(e.as_bytes()).map_err(|e| e.with_file(name.clone()))?,
    };
    devices_from_json(&text).map_err(|e| e.prefixed(&name).with_file(name))
}

/// Calls `each` for every device of a device file, in order, and returns how
/// many there were; `each` returns false to stop. The common export — one
/// UTF-8 `{"value": [...]}` page of camelCase devices — is parsed straight
/// from the file, one device at a time: a 100,000-device export (~150 MB) is
/// never held whole. Other shapes are read as [`devices_from_file`] does.
pub fn for_each_device_in_file(
    path: impl AsRef<Path>,
    mut each: impl FnMut(Device) -> bool,
) -> Result<usize> {
    let path = path.as_ref();
    let name = path.display().to_string();
    let io = |e: std::io::Error| {
        GraphError::new(Reason::Io, format!("cannot read the device file: {e}"))
            .with_file(name.clone())
            .with_source(e)
    };
    let mut reader = std::io::BufReader::new(std::fs::File::open(path).map_err(io)?);
    match stream_page(&mut reader, &mut each) {
        Stream::Done(n) => Ok(n),
        Stream::Failed { emitted: true, error } => {
            Err(GraphError::new(Reason::BadJson, error).prefixed(&name).with_file(name))
        }
        // Not the common shape: read it whole.
        Stream::Failed { emitted: false, .. } | Stream::NotAPage => {
            let mut n = 0;
            for d in devices_from_file(path)? {
                n += 1;
                if !each(d) {
                    break;
                }
            }
            Ok(n)
        }
    }
}

enum Stream {
    Done(usize),
    NotAPage,
    Failed { emitted: bool, error: String },
}

/// Parses `{"value": [device, …], …}` from `r`, handing out devices as they come.
fn stream_page(r: &mut impl std::io::BufRead, each: &mut dyn FnMut(Device) -> bool) -> Stream {
    use serde::de::{
        DeserializeSeed, Deserializer as _, IgnoredAny, MapAccess, SeqAccess, Visitor,
    };
    let Ok(head) = r.fill_buf() else { return Stream::NotAPage };
    let bom = head.starts_with(&[0xEF, 0xBB, 0xBF]);
    if bom {
        r.consume(3);
    }
    let Ok(head) = r.fill_buf() else { return Stream::NotAPage };
    if head.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Stream::NotAPage;
    }
    struct Page<'a> {
        each: &'a mut dyn FnMut(Device) -> bool,
        n: usize,
        found: bool,
    }
    struct Items<'p, 'a>(&'p mut Page<'a>);
    impl<'de> Visitor<'de> for Items<'_, '_> {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an array of devices")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<(), A::Error> {
            let mut going = true;
            while going {
                match seq.next_element::<Device>()? {
                    Some(d) => {
                        self.0.n += 1;
                        going = (self.0.each)(d);
                    }
                    None => return Ok(()),
                }
            }
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(())
        }
    }
    impl<'de> DeserializeSeed<'de> for Items<'_, '_> {
        type Value = ();
        fn deserialize<D: serde::Deserializer<'de>>(
            self,
            d: D,
        ) -> std::result::Result<(), D::Error> {
            d.deserialize_seq(self)
        }
    }
    impl<'de> Visitor<'de> for &mut Page<'_> {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a Graph page")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<(), A::Error> {
            while let Some(key) = map.next_key::<String>()? {
                if key == "value" && !self.found {
                    self.found = true;
                    map.next_value_seed(Items(self))?;
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(())
        }
    }
    let mut page = Page { each, n: 0, found: false };
    let mut de = serde_json::Deserializer::from_reader(r);
    let parsed = (&mut de).deserialize_map(&mut page).and_then(|()| de.end());
    match parsed {
        Ok(()) if page.found => Stream::Done(page.n),
        Ok(()) => Stream::NotAPage,
        Err(e) => Stream::Failed {
            emitted: page.n > 0,
            error: format!("not valid JSON at line {} column {}: {e}", e.line(), e.column()),
        },
    }
}

/// The common shape, one `{"value": [...]}` page of camelCase devices, read
/// device by device instead of as one JSON tree (a 100,000-device export is
/// ~150 MB of text; its tree would be several times that).
fn single_page(text: &str) -> Option<Vec<Device>> {
    #[derive(serde::Deserialize)]
    struct Page {
        value: Vec<Device>,
    }
    let t = text.trim_start();
    if !t.starts_with('{') {
        return None;
    }
    serde_json::from_str::<Page>(t).ok().map(|p| p.value)
}

/// Read devices from JSON text (see the module docs for the accepted shapes).
pub fn devices_from_json(text: &str) -> Result<Vec<Device>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if let Some(devices) = single_page(text) {
        return Ok(devices);
    }
    let mut out = Vec::new();
    let mut n_values = 0usize;
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    for item in stream.by_ref() {
        let v = item.map_err(|e| {
            GraphError::new(
                Reason::BadJson,
                format!("not valid JSON at line {} column {}: {e}", e.line(), e.column()),
            )
        })?;
        n_values += 1;
        let top =
            if n_values > 1 { format!("top-level value {n_values}, ") } else { String::new() };
        match v {
            Value::Object(o) if o.contains_key("value") || o.contains_key("Value") => {
                take_page(o, &format!("{top}page 1"), &mut out)?;
            }
            Value::Object(o) => out.push(device(Value::Object(o), &format!("{top}device 0"))?),
            Value::Array(items) => {
                let pages = !items.is_empty() && items.iter().all(is_page);
                for (i, item) in items.into_iter().enumerate() {
                    match item {
                        Value::Object(o) if pages => {
                            take_page(o, &format!("{top}page {}", i + 1), &mut out)?
                        }
                        other => out.push(device(other, &format!("{top}device {i}"))?),
                    }
                }
            }
            other => {
                return Err(GraphError::new(
                    Reason::BadJson,
                    format!(
                        "expected a Graph page, an array of pages or an array of devices, found {}",
                        type_name(&other)
                    ),
                ));
            }
        }
    }
    if n_values == 0 {
        return Err(GraphError::new(Reason::BadJson, "no JSON found (the input is empty)"));
    }
    Ok(out)
}

fn is_page(v: &Value) -> bool {
    v.as_object()
        .is_some_and(|o| matches!(o.get("value").or_else(|| o.get("Value")), Some(Value::Array(_))))
}

fn take_page(mut o: Map<String, Value>, loc: &str, out: &mut Vec<Device>) -> Result<()> {
    let items = match o.remove("value").or_else(|| o.remove("Value")) {
        Some(Value::Array(a)) => a,
        Some(other) => {
            return Err(GraphError::new(
                Reason::BadJson,
                format!("{loc}: 'value' should be an array but is {}", type_name(&other)),
            ));
        }
        None => {
            return Err(GraphError::new(Reason::BadJson, format!("{loc}: no 'value' array")));
        }
    };
    for (i, item) in items.into_iter().enumerate() {
        out.push(device(item, &format!("{loc}, device {i}"))?);
    }
    Ok(())
}

fn device(v: Value, loc: &str) -> Result<Device> {
    let v = normalize_powershell(v).map_err(|e| e.prefixed(loc))?;
    Device::from_json(v).map_err(|e| {
        let with_loc = e.prefixed(loc);
        if with_loc.device().is_none() { with_loc.with_device(loc.to_string()) } else { with_loc }
    })
}

/// `DeviceId` → `deviceId`, `Id` → `id`; existing camelCase keys win.
fn camel(k: &str) -> String {
    let mut c = k.chars();
    match c.next() {
        Some(f) if f.is_ascii_uppercase() => f.to_ascii_lowercase().to_string() + c.as_str(),
        _ => k.to_string(),
    }
}

fn camel_object(o: Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::with_capacity(o.len());
    let mut pascal = Vec::new();
    for (k, v) in o {
        if k.chars().next().is_some_and(|c| c.is_ascii_uppercase()) {
            pascal.push((camel(&k), v));
        } else {
            out.insert(k, v);
        }
    }
    for (k, v) in pascal {
        out.entry(k).or_insert(v);
    }
    out
}

/// Windows PowerShell 5.1 writes DateTime as `{"value":"/Date(…)/","DateTime":"…"}`.
fn flatten_ps_date(v: Value) -> Value {
    match v {
        Value::Object(o) if o.contains_key("DateTime") && o.contains_key("value") => {
            o.get("DateTime").cloned().unwrap_or(Value::Null)
        }
        other => other,
    }
}

fn normalize_powershell(v: Value) -> Result<Value> {
    let Value::Object(o) = v else { return Ok(v) };
    let mut o = camel_object(o);
    if let Some(Value::Object(extra)) = o.remove("additionalProperties") {
        for (k, v) in extra {
            o.entry(k).or_insert(v);
        }
    }
    for (_, v) in o.iter_mut() {
        *v = flatten_ps_date(std::mem::take(v));
    }
    if let Some(Value::Array(alts)) = o.get_mut("alternativeSecurityIds") {
        for a in alts.iter_mut() {
            match std::mem::take(a) {
                Value::Object(ao) => *a = Value::Object(camel_object(ao)),
                Value::String(s) if s.starts_with("Microsoft.Graph") => {
                    return Err(GraphError::new(
                        Reason::BadJson,
                        "alternativeSecurityIds was cut off by ConvertTo-Json's default depth; \
                         export again with `ConvertTo-Json -Depth 5`",
                    )
                    .with_field("alternativeSecurityIds"));
                }
                other => *a = other,
            }
        }
    }
    Ok(Value::Object(o))
}

/// Bytes → text: UTF-8 (BOM optional) or UTF-16LE/BE with BOM.
fn decode_text(bytes: &[u8]) -> Result<String> {
    let utf16 = |body: &[u8], le: bool| -> Result<String> {
        if !body.len().is_multiple_of(2) {
            return Err(GraphError::new(
                Reason::BadJson,
                "the file starts with a UTF-16 BOM but has an odd length",
            ));
        }
        let units = body.chunks_exact(2).map(|c| {
            if le { u16::from_le_bytes([c[0], c[1]]) } else { u16::from_be_bytes([c[0], c[1]]) }
        });
        char::decode_utf16(units)
            .collect::<std::result::Result<String, _>>()
            .map_err(|_| GraphError::new(Reason::BadJson, "the file is not valid UTF-16"))
    };
    match bytes {
        [0xFF, 0xFE, rest @ ..] => utf16(rest, true),
        [0xFE, 0xFF, rest @ ..] => utf16(rest, false),
        [0xEF, 0xBB, 0xBF, rest @ ..] => String::from_utf8(rest.to_vec()).map_err(|e| {
            GraphError::new(Reason::BadJson, format!("the file is not valid UTF-8: {e}"))
        }),
        _ => String::from_utf8(bytes.to_vec()).map_err(|e| {
            GraphError::new(
                Reason::BadJson,
                format!("the file is not valid UTF-8 (nor UTF-16 with a BOM): {e}"),
            )
        }),
    }
}
