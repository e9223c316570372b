//! Module resolution: `import "dwb/<name>"` loads the stdlib (a site's
//! `stdlib/<name>.rhai` overrides the copy embedded in the binary); any other
//! import resolves beside the importing script. Every loaded text is recorded
//! so diagnostics can show its lines.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rhai::{Engine, EvalAltResult, Module, ModuleResolver, Position, Scope, Shared};

use crate::embedded;
use crate::host::Host;

/// Prefix of source names for files embedded in the binary.
pub const EMBEDDED: &str = "<embedded>/";

/// dwb's module resolver.
pub struct DwbResolver {
    host: Arc<Host>,
    cache: Mutex<HashMap<String, Shared<Module>>>,
}

impl DwbResolver {
    pub fn new(host: Arc<Host>) -> DwbResolver {
        DwbResolver { host, cache: Mutex::new(HashMap::new()) }
    }

    /// The name (a path, or `<embedded>/stdlib/x.rhai`) and text of the module
    /// `path` imported from `source`.
    pub fn locate(&self, source: Option<&str>, path: &str) -> Option<(String, String)> {
        if let Some(name) = path.strip_prefix("dwb/") {
            let file =
                if name.ends_with(".rhai") { name.to_string() } else { format!("{name}.rhai") };
            if let Some(site) = &self.host.site_dir {
                let p = site.join("stdlib").join(&file);
                if let Ok(text) = std::fs::read_to_string(&p) {
                    return Some((p.display().to_string(), text));
                }
            }
            return embedded::stdlib(path)
                .map(|e| (format!("{EMBEDDED}stdlib/{}", e.name), e.text.to_string()));
        }
        let file = if path.ends_with(".rhai") { path.to_string() } else { format!("{path}.rhai") };
        let dir: PathBuf = match source {
            Some(s) if !s.starts_with(EMBEDDED) => {
                Path::new(s).parent().map(Path::to_path_buf).unwrap_or_default()
            }
            _ => PathBuf::from("."),
        };
        let p = dir.join(file);
        std::fs::read_to_string(&p).ok().map(|t| (p.display().to_string(), t))
    }
}

impl ModuleResolver for DwbResolver {
    fn resolve(
        &self,
        engine: &Engine,
        source: Option<&str>,
        path: &str,
        pos: Position,
    ) -> Result<Shared<Module>, Box<EvalAltResult>> {
        let Some((key, text)) = self.locate(source, path) else {
            return Err(Box::new(EvalAltResult::ErrorModuleNotFound(path.to_string(), pos)));
        };
        if let Some(m) = self.cache.lock().ok().and_then(|c| c.get(&key).cloned()) {
            return Ok(m);
        }
        if let Ok(mut s) = self.host.texts.lock() {
            s.insert(key.clone(), text.clone());
        }
        let mut ast = engine.compile(&text).map_err(|e| {
            Box::new(EvalAltResult::ErrorInModule(key.clone(), Box::new(e.into()), pos))
        })?;
        ast.set_source(key.as_str());
        let mut module = Module::eval_ast_as_new(Scope::new(), &ast, engine)
            .map_err(|e| Box::new(EvalAltResult::ErrorInModule(key.clone(), e, pos)))?;
        module.build_index();
        let shared: Shared<Module> = module.into();
        if let Ok(mut c) = self.cache.lock() {
            c.insert(key, shared.clone());
        }
        Ok(shared)
    }
}
