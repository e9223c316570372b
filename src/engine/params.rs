//! Script parameters. A script declares them in `fn params()`, returning an
//! array of maps `#{ name, type, default_value, required, choices, help }`; dwb
//! validates `--param KEY=VALUE` against that before anything runs (types,
//! choices, a name given twice), and the script sees the result as the
//! `params` map. Everything is checked strictly: a bool is `true` or `false`,
//! never `yes` or `1`, so a typo cannot turn a check on or off.

use rhai::{AST, CallFnOptions, Dynamic, Engine, Map, Scope};
use serde::Serialize;

use crate::error::{Error, Kind, Result, did_you_mean};

/// Value types a parameter may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamType {
    String,
    Int,
    Bool,
    Float,
}

/// One declared parameter.
#[derive(Debug, Clone, Serialize)]
pub struct ParamSpec {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: ParamType,
    pub required: bool,
    pub default: Option<String>,
    /// The only values allowed (empty: any value of the type).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<String>,
    pub help: String,
}

impl ParamSpec {
    /// `full|delta`, `true|false` or the type name, for usage lines.
    pub fn value_hint(&self) -> String {
        match (self.ty, self.choices.is_empty()) {
            (_, false) => self.choices.join("|"),
            (ParamType::Bool, true) => "true|false".into(),
            (ParamType::Int, true) => "int".into(),
            (ParamType::Float, true) => "number".into(),
            (ParamType::String, true) => "string".into(),
        }
    }
}

fn spec_err(msg: String) -> Error {
    Error::new(Kind::InvalidArgument, format!("bad parameter declaration in params(): {msg}"))
}

/// Reads the declarations by calling `params()` without running the script.
pub fn declared(engine: &Engine, ast: &AST) -> Result<Vec<ParamSpec>> {
    if !ast.iter_functions().any(|f| f.name == "params" && f.params.is_empty()) {
        return Ok(Vec::new());
    }
    let opts = CallFnOptions::new().eval_ast(false).rewind_scope(true);
    let v: Dynamic = engine
        .call_fn_with_options(opts, &mut Scope::new(), ast, "params", ())
        .map_err(|e| spec_err(e.to_string()))?;
    let arr = v
        .into_array()
        .map_err(|t| spec_err(format!("params() must return an array of maps, not {t}")))?;
    let mut out = Vec::new();
    for item in arr {
        let m = item
            .try_cast::<Map>()
            .ok_or_else(|| spec_err("each parameter must be a map".into()))?;
        for k in m.keys() {
            const KEYS: &[&str] = &["name", "type", "default_value", "required", "choices", "help"];
            if !KEYS.contains(&k.as_str()) {
                let mut msg = format!("unknown key `{k}`");
                if let Some(s) = did_you_mean(k, KEYS.iter().copied()) {
                    msg.push_str(&format!("; did you mean `{s}`?"));
                }
                return Err(spec_err(msg));
            }
        }
        let s = |k: &str| m.get(k).filter(|v| !v.is_unit()).map(|v| v.to_string());
        let name = s("name").ok_or_else(|| spec_err("a parameter has no name".into()))?;
        let ty = match s("type").as_deref().unwrap_or("string") {
            "string" => ParamType::String,
            "int" => ParamType::Int,
            "bool" => ParamType::Bool,
            "float" => ParamType::Float,
            t => return Err(spec_err(format!("parameter `{name}` has unknown type `{t}`"))),
        };
        let required = m.get("required").and_then(|v| v.as_bool().ok()).unwrap_or(false);
        let choices = match m.get("choices") {
            None => Vec::new(),
            Some(v) => match v.read_lock::<rhai::Array>() {
                Some(a) if !a.is_empty() => a.iter().map(|c| c.to_string()).collect(),
                _ => {
                    return Err(spec_err(format!(
                        "`choices` of `{name}` must be a non-empty array of values"
                    )));
                }
            },
        };
        let spec = ParamSpec {
            name,
            ty,
            required,
            default: s("default_value"),
            choices,
            help: s("help").unwrap_or_default(),
        };
        // A declaration that contradicts itself is the script's bug: found by `dwb check`.
        for c in spec.choices.iter().chain(&spec.default) {
            let _ = convert(&spec, c).map_err(|e| spec_err(e.message))?;
        }
        if out.iter().any(|o: &ParamSpec| o.name == spec.name) {
            return Err(spec_err(format!("`{}` is declared twice", spec.name)));
        }
        out.push(spec);
    }
    Ok(out)
}

fn convert(spec: &ParamSpec, raw: &str) -> Result<Dynamic> {
    let shown = crate::text::visible(&raw.chars().take(80).collect::<String>()).into_owned();
    let bad = |what: &str| {
        Error::new(
            Kind::InvalidArgument,
            format!("parameter `{}` must be {what}, got `{shown}`", spec.name),
        )
    };
    if !spec.choices.is_empty() && !spec.choices.iter().any(|c| c == raw) {
        let mut msg = format!(
            "parameter `{}` must be one of {}, got `{shown}`",
            spec.name,
            spec.choices.join(", ")
        );
        if let Some(s) = did_you_mean(raw, spec.choices.iter().map(String::as_str)) {
            msg.push_str(&format!("; did you mean `{s}`?"));
        }
        return Err(Error::new(Kind::InvalidArgument, msg));
    }
    Ok(match spec.ty {
        ParamType::String => Dynamic::from(raw.to_string()),
        ParamType::Int => {
            Dynamic::from(raw.trim().parse::<i64>().map_err(|_| bad("a whole number"))?)
        }
        ParamType::Float => Dynamic::from(raw.trim().parse::<f64>().map_err(|_| bad("a number"))?),
        // Only the two words: `yes`, `1` or `on` would be guesses about intent.
        ParamType::Bool => Dynamic::from(match raw.trim() {
            "true" => true,
            "false" => false,
            _ => return Err(bad("true or false")),
        }),
    })
}

/// Validates `given` (`KEY=VALUE` pairs, already split) against `specs`.
pub fn validate(specs: &[ParamSpec], given: &[(String, String)]) -> Result<Map> {
    let mut out = Map::new();
    for (i, (k, v)) in given.iter().enumerate() {
        if let Some((_, first)) = given[..i].iter().find(|(k2, _)| k2 == k) {
            return Err(Error::new(
                Kind::InvalidArgument,
                format!(
                    "parameter `{k}` is given twice (`{}` and `{}`)",
                    crate::text::visible(first),
                    crate::text::visible(v)
                ),
            )
            .with_hint(format!("pass --param {k}=… once")));
        }
        let Some(spec) = specs.iter().find(|s| s.name == *k) else {
            let mut msg = format!("unknown parameter `{k}`");
            if let Some(s) = did_you_mean(k, specs.iter().map(|s| s.name.as_str())) {
                msg.push_str(&format!("; did you mean `{s}`?"));
            }
            let known: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
            return Err(Error::new(Kind::InvalidArgument, msg).with_hint(if known.is_empty() {
                "this script takes no parameters".into()
            } else {
                format!("this script takes: {}", known.join(", "))
            }));
        };
        out.insert(k.as_str().into(), convert(spec, v)?);
    }
    for s in specs {
        if out.contains_key(s.name.as_str()) {
            continue;
        }
        if s.required {
            return Err(Error::new(
                Kind::InvalidArgument,
                format!("missing required parameter `{}`", s.name),
            )
            .with_hint(format!("pass it as --param {}=VALUE ({})", s.name, s.help)));
        }
        let v = match &s.default {
            Some(d) => convert(s, d)?,
            None => Dynamic::UNIT,
        };
        out.insert(s.name.as_str().into(), v);
    }
    Ok(out)
}

/// Splits `KEY=VALUE`.
pub fn split_pair(s: &str) -> Result<(String, String)> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(Error::new(Kind::InvalidArgument, format!("`{s}` is not KEY=VALUE"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(ty: ParamType, choices: &[&str]) -> ParamSpec {
        ParamSpec {
            name: "p".into(),
            ty,
            required: false,
            default: None,
            choices: choices.iter().map(|c| c.to_string()).collect(),
            help: String::new(),
        }
    }

    fn given(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn bools_are_only_true_or_false() {
        let s = [spec(ParamType::Bool, &[])];
        assert_eq!(validate(&s, &given(&[("p", "true")])).unwrap()["p"].as_bool(), Ok(true));
        assert_eq!(validate(&s, &given(&[("p", "false")])).unwrap()["p"].as_bool(), Ok(false));
        for v in ["yes", "1", "on", "TRUE", "no", ""] {
            let e = validate(&s, &given(&[("p", v)])).unwrap_err();
            assert!(e.message.contains("must be true or false"), "{v}: {}", e.message);
        }
    }

    #[test]
    fn choices_are_enforced_with_a_suggestion() {
        let s = [spec(ParamType::String, &["full", "delta"])];
        assert!(validate(&s, &given(&[("p", "delta")])).is_ok());
        let e = validate(&s, &given(&[("p", "detla")])).unwrap_err();
        assert!(e.message.contains("one of full, delta, got `detla`"), "{}", e.message);
        assert!(e.message.contains("did you mean `delta`?"), "{}", e.message);
    }

    #[test]
    fn a_parameter_given_twice_is_an_error() {
        let s = [spec(ParamType::String, &[])];
        let e = validate(&s, &given(&[("p", "a"), ("p", "b")])).unwrap_err();
        assert_eq!(e.kind, Kind::InvalidArgument);
        assert!(e.message.contains("`p` is given twice (`a` and `b`)"), "{}", e.message);
    }

    #[test]
    fn declarations_are_checked() {
        let engine = Engine::new();
        let decl = |body: &str| {
            let ast = engine.compile(format!("fn params() {{ [{body}] }}")).unwrap();
            declared(&engine, &ast)
        };
        let ok = decl(r#"#{ name: "m", choices: ["full", "delta"], default_value: "full" }"#);
        assert_eq!(ok.unwrap()[0].choices, ["full", "delta"]);
        let e = decl(r#"#{ name: "m", choices: ["full"], default_value: "delta" }"#).unwrap_err();
        assert!(e.message.contains("must be one of full"), "{}", e.message);
        let e = decl(r#"#{ name: "n", type: "int", choices: ["x"] }"#).unwrap_err();
        assert!(e.message.contains("must be a whole number"), "{}", e.message);
        let e = decl(r#"#{ name: "n", choice: ["x"] }"#).unwrap_err();
        assert!(e.message.contains("did you mean `choices`?"), "{}", e.message);
        let e = decl(r#"#{ name: "n" }, #{ name: "n" }"#).unwrap_err();
        assert!(e.message.contains("declared twice"), "{}", e.message);
    }
}
