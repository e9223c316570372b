//! How a binding is registered: `reg` / `reg_ns` with the parameters' names,
//! the doc comment and the closure (the signature is derived from its types,
//! see `signature`), errors converted to the map scripts catch, and the call
//! site's position added to errors.

use rhai::{
    Dynamic, EvalAltResult, FnNamespace, FuncRegistration, Map, Module, NativeCallContext,
    RhaiFunc, RhaiNativeFunc, Shared, Variant,
};

use crate::bindings::signature;
use crate::error::Error;

/// Script-visible result.
pub type RhaiResult<T> = Result<T, Box<EvalAltResult>>;

/// Turns a dwb error into the value scripts catch.
pub fn to_rhai(e: Error) -> Box<EvalAltResult> {
    let mut m = Map::new();
    m.insert("code".into(), e.code().into());
    m.insert("kind".into(), e.kind_str().into());
    m.insert("message".into(), e.message.clone().into());
    m.insert("dn".into(), e.dn.clone().map(Dynamic::from).unwrap_or(Dynamic::UNIT));
    m.insert(
        "server_text".into(),
        e.server_text.clone().map(Dynamic::from).unwrap_or(Dynamic::UNIT),
    );
    m.insert("hint".into(), e.hint.clone().map(Dynamic::from).unwrap_or(Dynamic::UNIT));
    Box::new(EvalAltResult::ErrorRuntime(m.into(), rhai::Position::NONE))
}

/// `?`-friendly conversion for binding bodies.
pub trait OrRhai<T> {
    fn rhai(self) -> RhaiResult<T>;
}

impl<T> OrRhai<T> for crate::error::Result<T> {
    fn rhai(self) -> RhaiResult<T> {
        self.map_err(to_rhai)
    }
}

/// Registers a binding whose doc is the `///` comment written before its
/// closure, so the reference reads as Rust docs do:
///
/// ```text
/// bind!(
///     /// Parses an RFC 4514 DN.
///     m, "dn", ["text"],
///     |s: ImmutableString| Dn::parse(&s).rhai()
/// );
/// ```
///
/// `bind!(/// … m, G, "name", …)` registers into the namespace `G` (methods).
macro_rules! bind {
    ($(#[doc = $doc:literal])+ &mut $m:ident, $($rest:tt)*) => {
        bind!(@reg [&mut $m] [$($doc),+] $($rest)*)
    };
    ($(#[doc = $doc:literal])+ $m:ident, $($rest:tt)*) => {
        bind!(@reg [$m] [$($doc),+] $($rest)*)
    };
    (@reg [$($m:tt)+] [$($doc:literal),+] $ns:ident, $name:literal, [$($p:expr),* $(,)?], $f:expr $(,)?) => {
        $crate::bindings::register::reg_ns(
            $($m)+,
            $ns,
            $name,
            &[$($p),*],
            &$crate::bindings::register::doc_text(&[$($doc),+]),
            $f,
        )
    };
    (@reg [$($m:tt)+] [$($doc:literal),+] $name:literal, [$($p:expr),* $(,)?], $f:expr $(,)?) => {
        $crate::bindings::register::reg(
            $($m)+,
            $name,
            &[$($p),*],
            &$crate::bindings::register::doc_text(&[$($doc),+]),
            $f,
        )
    };
}
pub(crate) use bind;

/// The text of `///` lines as the macro sees them (each with the space after
/// `///`), one line each.
pub fn doc_text(lines: &[&str]) -> String {
    lines.iter().map(|l| l.strip_prefix(' ').unwrap_or(l)).collect::<Vec<_>>().join("\n")
}

/// Registers a documented, volatile function into `m`. `params` name the
/// parameters; their types and the return type are derived from `func`'s (a
/// `Dynamic` one names the types it accepts: `"dn: Dn|String"`, `"-> Entry|()"`,
/// see `signature`); `doc` becomes the `///` comment (first line = summary).
pub fn reg<A: 'static, const N: usize, const X: bool, R: Variant + Clone, const F: bool, FUNC>(
    m: &mut Module,
    name: &str,
    params: &[&str],
    doc: &str,
    func: FUNC,
) where
    FUNC: RhaiNativeFunc<A, N, X, R, F> + Send + Sync + 'static,
{
    reg_ns(m, FnNamespace::Internal, name, params, doc, func);
}

/// Like `reg`, in the global namespace (methods on dwb's types).
pub fn reg_ns<A: 'static, const N: usize, const X: bool, R: Variant + Clone, const F: bool, FUNC>(
    m: &mut Module,
    ns: FnNamespace,
    name: &str,
    params: &[&str],
    doc: &str,
    func: FUNC,
) where
    FUNC: RhaiNativeFunc<A, N, X, R, F> + Send + Sync + 'static,
{
    let comments: Vec<String> =
        doc.trim().lines().map(|l| format!("/// {}", l.trim_end())).collect();
    // Rhai takes the return type as the last entry.
    let params = signature::derive(name, params, &FUNC::param_names(), FUNC::return_type_name());
    let f = with_call_position(func.into_rhai_function(true, true));
    FuncRegistration::new(name)
        .with_namespace(ns)
        .with_params_info(params)
        .with_comments(comments)
        .set_into_module_raw(m, FUNC::param_types(), f);
}

type NativeFn = dyn Fn(Option<NativeCallContext>, &mut [&mut Dynamic]) -> Result<Dynamic, Box<EvalAltResult>>
    + Send
    + Sync;

/// Rhai leaves errors from namespaced native functions (`ad::get`) without a
/// position; this gives them the call site, so diagnostics point at the line.
fn with_call_position(f: RhaiFunc) -> RhaiFunc {
    let wrap = |func: Shared<NativeFn>, wants_ctx: bool| -> Shared<NativeFn> {
        Shared::new(move |ctx: Option<NativeCallContext>, args: &mut [&mut Dynamic]| {
            let pos = ctx.as_ref().map(|c| c.call_position()).unwrap_or(rhai::Position::NONE);
            func(if wants_ctx { ctx } else { None }, args).map_err(|mut e| {
                if e.position().is_none() {
                    e.set_position(pos);
                }
                e
            })
        })
    };
    match f {
        RhaiFunc::Pure { func, has_context, is_pure, is_volatile } => RhaiFunc::Pure {
            func: wrap(func, has_context),
            has_context: true,
            is_pure,
            is_volatile,
        },
        RhaiFunc::Method { func, has_context, is_pure, is_volatile } => RhaiFunc::Method {
            func: wrap(func, has_context),
            has_context: true,
            is_pure,
            is_volatile,
        },
        other => other,
    }
}
