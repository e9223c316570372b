//! The site's hooks as the sync sees them: `in_scope(device)` and
//! `map_device(device, attrs)` from the site module, their results type-checked.

use rhai::{AST, Dynamic, Engine, EvalAltResult, Map, NativeCallContext, Scope};

use crate::bindings::convert::{self, from_value, to_values};
use crate::directory::Attr;
use crate::error::{Error, Kind, Result};
use crate::graph::Device;
use crate::writeback::hooks::{Mapped, SiteHooks};
/// The site's hooks, from the site module `dwb/site` (`stdlib/site.rhai`; a
/// site's own copy wins): the one place sync, verify's drift check and explain
/// read them. A device is converted to a script value once, for both hooks, and
/// what a hook returns is type-checked.
pub struct ScriptHooks<'a> {
    engine: &'a Engine,
    /// `site::in_scope(device)` and `site::map_device(device, attrs)` behind an
    /// `import "dwb/site"` (the module's functions see the module's own imports
    /// only when called through its namespace). `None` when not defined.
    in_scope: Option<AST>,
    map_device: Option<AST>,
    current: Option<(String, Dynamic)>,
}

/// `fn in_scope` / `fn map_device` defined outside the site module are refused:
/// verify and explain would not see them.
fn refuse_script_hooks(ctx: &NativeCallContext) -> Result<()> {
    for m in ctx.iter_namespaces() {
        for (_, _, name, _, _) in m.iter_script_fn_info() {
            if name == "in_scope" || name == "map_device" {
                return Err(Error::invalid_argument(format!(
                    "`fn {name}` is defined in the script; site hooks live in the site module \
                     stdlib/site.rhai, so that sync, verify and explain all use them"
                ))
                .with_hint(format!(
                    "move `fn {name}` into stdlib/site.rhai (`dwb init` writes one)"
                )));
            }
        }
    }
    Ok(())
}

impl<'a> ScriptHooks<'a> {
    /// The site module's hooks, checked for their parameters.
    pub fn load(ctx: &'a NativeCallContext<'a>) -> Result<ScriptHooks<'a>> {
        refuse_script_hooks(ctx)?;
        let engine = ctx.engine();
        let module = engine
            .module_resolver()
            .resolve(engine, None, "dwb/site", rhai::Position::NONE)
            .map_err(|e| {
                Error::invalid_argument(format!("loading the site module dwb/site: {e}"))
            })?;
        let arity = |name: &str| {
            module.iter_script_fn_info().find(|(_, _, n, _, _)| *n == name).map(|f| f.3)
        };
        let caller = |name: &str, want: usize, sig: &str| -> Result<Option<AST>> {
            match arity(name) {
                None => Ok(None),
                Some(n) if n != want => Err(Error::invalid_argument(format!(
                    "the site hook `{name}` takes {n} parameter(s); it must be `fn {sig}`"
                ))),
                Some(_) => {
                    let call = format!("import \"dwb/site\" as site; site::{sig}");
                    let mut vars = Scope::new();
                    vars.push("device", ()).push("attrs", ());
                    engine
                        .compile_with_scope(&vars, &call)
                        .map(Some)
                        .map_err(|e| Error::internal(e.to_string()))
                }
            }
        };
        let in_scope = caller("in_scope", 1, "in_scope(device)")?;
        let map_device = caller("map_device", 2, "map_device(device, attrs)")?;
        Ok(ScriptHooks { engine, in_scope, map_device, current: None })
    }

    fn device(&mut self, d: &Device) -> Dynamic {
        match &self.current {
            Some((id, v)) if *id == d.id => v.clone(),
            _ => {
                let v = convert::device(d);
                self.current = Some((d.id.clone(), v.clone()));
                v
            }
        }
    }

    fn call(&self, hook: &str, ast: &AST, d: &Device, mut scope: Scope) -> Result<Dynamic> {
        self.engine.eval_ast_with_scope::<Dynamic>(&mut scope, ast).map_err(|e| {
            let e = bare(&e);
            Error::invalid_argument(format!(
                "the site hook `{hook}` failed for device {}: {e}",
                who(d)
            ))
        })
    }
}

/// A device as error messages name it.
fn who(d: &Device) -> String {
    let name = d.display_name.as_deref().map(crate::text::visible).unwrap_or_default();
    format!("{} ({name})", d.id)
}

/// An error's text without Rhai's position suffix.
fn bare(e: &EvalAltResult) -> String {
    match e {
        EvalAltResult::ErrorRuntime(v, _) => v.to_string(),
        other => other.to_string(),
    }
}

/// A script value's type and a short rendering, for type errors.
fn shown(v: &Dynamic) -> String {
    let text = v.to_string();
    let text: String = text.chars().take(40).collect();
    format!("{} ({})", v.type_name(), crate::text::visible(&text))
}

impl SiteHooks for ScriptHooks<'_> {
    fn in_scope(&mut self, d: &Device) -> Result<Option<bool>> {
        if self.in_scope.is_none() {
            return Ok(None);
        }
        let mut scope = Scope::new();
        scope.push("device", self.device(d));
        let Some(ast) = &self.in_scope else { return Ok(None) };
        let v = self.call("in_scope", ast, d, scope)?;
        match v.as_bool() {
            Ok(b) => Ok(Some(b)),
            Err(_) => Err(Error::new(
                Kind::InvalidValue,
                format!(
                    "the site hook `in_scope` returned {} for device {}; it must return true or false",
                    shown(&v),
                    who(d)
                ),
            )
            .with_hint("fix `fn in_scope` in stdlib/site.rhai; nothing was applied")),
        }
    }

    fn map_device(&mut self, d: &Device, attrs: Vec<Attr>) -> Result<Mapped> {
        if self.map_device.is_none() {
            return Ok(Mapped::Attrs(attrs));
        }
        let mut map = Map::new();
        for a in &attrs {
            let vals: rhai::Array = a.values.iter().map(|v| from_value(&a.name, v)).collect();
            map.insert(a.name.as_ref().into(), vals.into());
        }
        let mut scope = Scope::new();
        scope.push("device", self.device(d));
        scope.push("attrs", Dynamic::from_map(map));
        let Some(ast) = &self.map_device else { return Ok(Mapped::Attrs(attrs)) };
        let v = self.call("map_device", ast, d, scope)?;
        if v.is_unit() {
            return Ok(Mapped::Skip);
        }
        let type_error = |what: String, rule: &str| {
            Error::new(
                Kind::InvalidValue,
                format!("the site hook `map_device` {what} for device {}; {rule}", who(d)),
            )
            .with_hint("fix `fn map_device` in stdlib/site.rhai; nothing was applied")
        };
        let Some(m) = v.clone().try_cast::<Map>() else {
            let rule = "it must return the attribute map, or () to skip the device";
            return Err(type_error(format!("returned {}", shown(&v)), rule));
        };
        let mut out = Vec::with_capacity(m.len());
        for (k, v) in m.iter().filter(|(_, v)| !v.is_unit()) {
            let values = to_values(k, v)
                .map_err(|e| type_error(format!("returned a bad `{k}`"), &e.message))?;
            out.push(Attr::new(k.as_str(), values));
        }
        Ok(Mapped::Attrs(out))
    }
}
