//! Calls that name no function, found without running anything: every call in
//! the AST (function bodies and closures included) is resolved against what
//! the engine registers (Rhai's packages, dwb's modules and type methods), the
//! script's own functions and the modules it imports. A namespaced call
//! (`ad::get`, `checks::schema`) must name a function of that module with that
//! many arguments; a plain call a function of any namespace or a variable
//! holding a function pointer; a method call a function of that name.

use std::collections::{BTreeSet, HashMap, HashSet};

use rhai::{AST, ASTNode, Engine, Expr, FnAccess, FnCallExpr, Module, Position, Stmt};

use crate::error::did_you_mean;

/// Names Rhai's parser treats as keywords of call syntax.
const KEYWORD_FNS: &[&str] = &[
    "Fn",
    "call",
    "curry",
    "eval",
    "is_def_var",
    "is_def_fn",
    "type_of",
    "is_shared",
    "print",
    "debug",
];

/// Arities by function name.
type Arities = HashMap<String, BTreeSet<usize>>;

/// The functions a script may call.
#[derive(Default, Clone)]
pub struct Known {
    global: Arities,
    modules: HashMap<String, Arities>,
}

impl Known {
    /// What `engine` registers: the global namespace (with Rhai's packages) and
    /// the static modules.
    pub fn of(engine: &Engine) -> Known {
        let json = engine.gen_fn_metadata_to_json(true).unwrap_or_default();
        let v: serde_json::Value = serde_json::from_str(&json).unwrap_or_default();
        let arities = |fs: &serde_json::Value| {
            let mut out = Arities::new();
            for f in fs.as_array().into_iter().flatten() {
                if let (Some(n), Some(k)) = (f["name"].as_str(), f["numParams"].as_u64()) {
                    out.entry(n.to_string()).or_default().insert(k as usize);
                }
            }
            out
        };
        let mut k = Known { global: arities(&v["functions"]), modules: HashMap::new() };
        for (name, m) in v["modules"].as_object().into_iter().flatten() {
            k.modules.insert(name.clone(), arities(&m["functions"]));
        }
        k
    }

    /// An imported module under `alias`: its public functions.
    pub fn add_module(&mut self, alias: &str, m: &Module) {
        let fns = self.modules.entry(alias.to_string()).or_default();
        for (_, access, name, arity, _) in m.iter_script_fn_info() {
            if access != FnAccess::Private {
                fns.entry(name.to_string()).or_default().insert(arity);
            }
        }
    }
}

/// A call as found in the AST.
struct Call {
    name: String,
    /// The module path (`ad`), when namespaced.
    namespace: Vec<String>,
    args: usize,
    operator: bool,
    method: bool,
    pos: Position,
}

impl Call {
    fn new(x: &FnCallExpr, pos: Position, method: bool) -> Call {
        Call {
            name: x.name.to_string(),
            namespace: x.namespace.path.iter().map(|i| i.name.to_string()).collect(),
            args: x.args.len(),
            operator: x.is_operator_call(),
            method,
            pos,
        }
    }
}

/// A call that resolves to nothing.
pub struct BadCall {
    pub pos: Position,
    pub message: String,
    pub hint: Option<String>,
}

/// The `import "path" as alias` statements of `ast`, anywhere in it.
pub fn imports(ast: &AST) -> Vec<(String, String, Position)> {
    let mut out = Vec::new();
    ast.walk(&mut |path: &[ASTNode]| {
        if let Some(ASTNode::Stmt(Stmt::Import(x, pos))) = path.last()
            && let Expr::StringConstant(p, _) = &x.0
        {
            out.push((p.to_string(), x.1.name.to_string(), *pos));
        }
        true
    });
    out
}

fn arity_text(set: &BTreeSet<usize>) -> String {
    let n: Vec<String> = set.iter().map(|k| k.to_string()).collect();
    let last = set.iter().last().copied().unwrap_or(0);
    let noun = if set.len() == 1 && last == 1 { "argument" } else { "arguments" };
    match n.as_slice() {
        [one] => format!("{one} {noun}"),
        [init @ .., last] => format!("{} or {last} {noun}", init.join(", ")),
        [] => "no arguments".into(),
    }
}

/// Every call in `ast` that names no function; `lost` are functions whose
/// definitions did not parse (calls to them are not reported again).
pub fn check(ast: &AST, known: &Known, lost: &[String]) -> Vec<BadCall> {
    let mut own = Arities::new();
    let mut vars: HashSet<String> = HashSet::new();
    for f in ast.iter_functions() {
        own.entry(f.name.to_string()).or_default().insert(f.params.len());
        vars.extend(f.params.iter().map(|p| p.to_string()));
    }
    let mut calls: Vec<Call> = Vec::new();
    let mut map_keys: HashSet<String> = HashSet::new();
    ast.walk(&mut |path: &[ASTNode]| {
        match path.last() {
            Some(ASTNode::Stmt(Stmt::FnCall(x, pos))) => calls.push(Call::new(x, *pos, false)),
            Some(ASTNode::Expr(Expr::FnCall(x, pos))) => calls.push(Call::new(x, *pos, false)),
            Some(ASTNode::Expr(Expr::MethodCall(x, pos))) => calls.push(Call::new(x, *pos, true)),
            Some(ASTNode::Stmt(Stmt::Var(x, ..))) => {
                vars.insert(x.0.name.to_string());
            }
            Some(ASTNode::Stmt(Stmt::For(x, _))) => {
                vars.insert(x.0.name.to_string());
            }
            Some(ASTNode::Expr(Expr::Variable(x, ..))) => {
                vars.insert(x.1.to_string());
            }
            Some(ASTNode::Expr(Expr::Map(x, _))) => {
                map_keys.extend(x.0.iter().map(|(k, _)| k.name.to_string()));
            }
            // A map literal the optimizer folded into a constant.
            Some(ASTNode::Expr(Expr::DynamicConstant(v, _))) => {
                if let Some(m) = v.read_lock::<rhai::Map>() {
                    map_keys.extend(m.keys().map(|k| k.to_string()));
                }
            }
            _ => {}
        }
        true
    });
    let mut out = Vec::new();
    for call in &calls {
        let (name, args, pos, method) = (call.name.as_str(), call.args, call.pos, call.method);
        let is_ident = name.chars().next().is_some_and(|c| c.is_alphabetic() || c == '_');
        if call.operator || !is_ident || KEYWORD_FNS.contains(&name) {
            continue;
        }
        if let Some(ns) = call.namespace.first() {
            if call.namespace.len() != 1 || ns == "global" {
                continue;
            }
            let Some(fns) = known.modules.get(ns) else { continue };
            let full = format!("{ns}::{name}");
            match fns.get(name) {
                Some(a) if a.contains(&args) => {}
                Some(a) => out.push(BadCall {
                    pos,
                    message: format!("`{full}` takes {}, not {args}", arity_text(a)),
                    hint: Some(format!("`dwb docs` (or `:help {full}` in the REPL) shows it")),
                }),
                None => out.push(unknown(&full, pos, fns.keys().map(|k| format!("{ns}::{k}")))),
            }
            continue;
        }
        if lost.iter().any(|l| l == name) || (!method && vars.contains(name)) {
            continue;
        }
        let arities: BTreeSet<usize> =
            known.global.get(name).into_iter().chain(own.get(name)).flatten().copied().collect();
        if method {
            // `obj.f()` may call a function pointer held in a map property `f`.
            if arities.is_empty() && !map_keys.contains(name) {
                out.push(unknown(name, pos, known.global.keys().chain(own.keys()).cloned()));
            }
            continue;
        }
        if arities.is_empty() {
            out.push(unknown(name, pos, known.global.keys().chain(own.keys()).cloned()));
        } else if !arities.contains(&args) && own.contains_key(name) {
            out.push(BadCall {
                pos,
                message: format!("`{name}` takes {}, not {args}", arity_text(&arities)),
                hint: None,
            });
        }
    }
    out.sort_by_key(|b| (b.pos.line(), b.pos.position()));
    out
}

fn unknown(name: &str, pos: Position, candidates: impl Iterator<Item = String>) -> BadCall {
    let cands: Vec<String> = candidates.collect();
    let mut message = format!("unknown function `{name}`");
    if let Some(s) = did_you_mean(name, cands.iter().map(String::as_str)) {
        message.push_str(&format!("; did you mean `{s}`?"));
    }
    BadCall { pos, message, hint: Some("`dwb docs` lists every function".into()) }
}
