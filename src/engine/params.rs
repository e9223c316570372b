//! Script parameters. A script declares them in `fn params()`, returning an
//! array of maps `#{ name, type, default, required, help }`; dwb validates
//! `--param KEY=VALUE` against that before anything runs, and the script sees
//! the result as the `params` map.

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
    pub help: String,
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
            if !["name", "type", "default_value", "required", "help"].contains(&k.as_str()) {
                return Err(spec_err(format!("unknown key `{k}`")));
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
        out.push(ParamSpec {
            name,
            ty,
            required,
            default: s("default_value"),
            help: s("help").unwrap_or_default(),
        });
    }
    Ok(out)
}

fn convert(spec: &ParamSpec, raw: &str) -> Result<Dynamic> {
    let bad = |what: &str| {
        Error::new(
            Kind::InvalidArgument,
            format!(
                "parameter `{}` must be {what}, got `{}`",
                spec.name,
                raw.chars().take(80).collect::<String>()
            ),
        )
    };
    Ok(match spec.ty {
        ParamType::String => Dynamic::from(raw.to_string()),
        ParamType::Int => {
            Dynamic::from(raw.trim().parse::<i64>().map_err(|_| bad("a whole number"))?)
        }
        ParamType::Float => Dynamic::from(raw.trim().parse::<f64>().map_err(|_| bad("a number"))?),
        ParamType::Bool => Dynamic::from(match raw.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" | "on" => true,
            "false" | "no" | "0" | "off" => false,
            _ => return Err(bad("true or false")),
        }),
    })
}

/// Validates `given` (`KEY=VALUE` pairs, already split) against `specs`.
pub fn validate(specs: &[ParamSpec], given: &[(String, String)]) -> Result<Map> {
    let mut out = Map::new();
    for (k, v) in given {
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
