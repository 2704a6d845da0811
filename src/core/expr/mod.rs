//! User expressions (custom reaction terms): one parser, one typed tree,
//! two back ends. A scene's text is parsed by a hand-written
//! recursive-descent parser (`parse.rs`) into [`Expr`], a flat arena of
//! typed nodes in evaluation order. The GPU gets WGSL *printed* from that
//! arena (one `let` per node, numbers as f32 literals, identifiers as the
//! kernel's own reads, never the user's text) and the CPU twin evaluates
//! the same arena in f32 in the same order, so the backends cannot
//! disagree about what an expression means and nothing but an expression
//! can reach a shader.
//!
//! Grammar (docs/scenes.md): numbers, identifiers (species and parameters),
//! `true`/`false`, `+ - * / %`, unary `-` and `!`, comparisons
//! `< <= > >= == !=` (not chained), `&&`, `||`, parentheses, and a
//! whitelist of scalar functions ([`Func`]). Limits ([`MAX_CHARS`],
//! [`MAX_TERMS`], [`MAX_DEPTH`]) are checked while reading the text, before
//! anything recursive runs, so no input can exhaust the stack here or in
//! naga: the printed WGSL nests at most one operator per statement.
//!
//! Owns: expression syntax, types and meaning. Never imports wgpu or naga.

mod parse;
#[cfg(test)]
mod tests;

use std::fmt;

/// Longest expression text, in bytes.
pub const MAX_CHARS: usize = 200_000;
/// Most terms (numbers and identifiers) in one expression.
pub const MAX_TERMS: usize = 10_000;
/// Deepest nesting of parentheses, calls and prefix operators.
pub const MAX_DEPTH: usize = 64;

/// An expression error: 1-based column (in characters) within the
/// expression text, and what is wrong there.
#[derive(Debug, Clone, PartialEq)]
pub struct ExprError {
    pub column: usize,
    pub message: String,
}

impl fmt::Display for ExprError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid expression at column {}: {}",
            self.column, self.message
        )
    }
}

impl std::error::Error for ExprError {}

/// The two value types: reaction rates are `F32`; comparisons give `Bool`
/// (for `select` and `&&`/`||`/`!`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    F32,
    Bool,
}

impl Ty {
    fn wgsl(self) -> &'static str {
        match self {
            Ty::F32 => "f32",
            Ty::Bool => "bool",
        }
    }
    fn name(self) -> &'static str {
        match self {
            Ty::F32 => "a number",
            Ty::Bool => "a truth value (true/false)",
        }
    }
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    And,
    Or,
}

impl BinOp {
    fn wgsl(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Rem => "%",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::And => "&&",
            BinOp::Or => "||",
        }
    }
}

/// The whitelisted functions (WGSL built-ins of the same name and meaning).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    Abs,
    Exp,
    Exp2,
    Log,
    Log2,
    Sqrt,
    InverseSqrt,
    Sin,
    Cos,
    Tan,
    Sinh,
    Cosh,
    Tanh,
    Asin,
    Acos,
    Atan,
    Floor,
    Ceil,
    Round,
    Fract,
    Trunc,
    Sign,
    Saturate,
    Min,
    Max,
    Pow,
    Step,
    Atan2,
    Clamp,
    Fma,
    Mix,
    /// `select(f, t, cond)`: `t` when `cond`, else `f` (WGSL's order).
    Select,
}

/// Every function with its name, in the order docs/scenes.md lists them.
pub const FUNCS: &[(&str, Func)] = &[
    ("abs", Func::Abs),
    ("exp", Func::Exp),
    ("exp2", Func::Exp2),
    ("log", Func::Log),
    ("log2", Func::Log2),
    ("sqrt", Func::Sqrt),
    ("inverseSqrt", Func::InverseSqrt),
    ("sin", Func::Sin),
    ("cos", Func::Cos),
    ("tan", Func::Tan),
    ("sinh", Func::Sinh),
    ("cosh", Func::Cosh),
    ("tanh", Func::Tanh),
    ("asin", Func::Asin),
    ("acos", Func::Acos),
    ("atan", Func::Atan),
    ("floor", Func::Floor),
    ("ceil", Func::Ceil),
    ("round", Func::Round),
    ("fract", Func::Fract),
    ("trunc", Func::Trunc),
    ("sign", Func::Sign),
    ("saturate", Func::Saturate),
    ("min", Func::Min),
    ("max", Func::Max),
    ("pow", Func::Pow),
    ("step", Func::Step),
    ("atan2", Func::Atan2),
    ("clamp", Func::Clamp),
    ("fma", Func::Fma),
    ("mix", Func::Mix),
    ("select", Func::Select),
];

impl Func {
    pub fn name(self) -> &'static str {
        FUNCS
            .iter()
            .find(|(_, f)| *f == self)
            .map(|(n, _)| *n)
            .unwrap_or("?")
    }

    /// Argument types and result type.
    fn signature(self) -> (&'static [Ty], Ty) {
        use Ty::*;
        match self {
            Func::Min | Func::Max | Func::Pow | Func::Step | Func::Atan2 => (&[F32, F32], F32),
            Func::Clamp | Func::Fma | Func::Mix => (&[F32, F32, F32], F32),
            Func::Select => (&[F32, F32, Bool], F32),
            _ => (&[F32], F32),
        }
    }

    /// f32 value, as WGSL defines it.
    fn apply(self, x: f32, y: f32, z: f32) -> f32 {
        match self {
            Func::Abs => x.abs(),
            Func::Exp => x.exp(),
            Func::Exp2 => x.exp2(),
            Func::Log => x.ln(),
            Func::Log2 => x.log2(),
            Func::Sqrt => x.sqrt(),
            Func::InverseSqrt => 1.0 / x.sqrt(),
            Func::Sin => x.sin(),
            Func::Cos => x.cos(),
            Func::Tan => x.tan(),
            Func::Sinh => x.sinh(),
            Func::Cosh => x.cosh(),
            Func::Tanh => x.tanh(),
            Func::Asin => x.asin(),
            Func::Acos => x.acos(),
            Func::Atan => x.atan(),
            Func::Floor => x.floor(),
            Func::Ceil => x.ceil(),
            // WGSL rounds half to even.
            Func::Round => x.round_ties_even(),
            Func::Fract => x - x.floor(),
            Func::Trunc => x.trunc(),
            Func::Sign => {
                if x > 0.0 {
                    1.0
                } else if x < 0.0 {
                    -1.0
                } else {
                    0.0
                }
            }
            Func::Saturate => x.clamp(0.0, 1.0),
            Func::Min => x.min(y),
            Func::Max => x.max(y),
            Func::Pow => x.powf(y),
            // step(edge, x) = 1 when edge ≤ x.
            Func::Step => (x <= y) as u32 as f32,
            Func::Atan2 => x.atan2(y),
            Func::Clamp => x.max(y).min(z),
            Func::Fma => x.mul_add(y, z),
            Func::Mix => x * (1.0 - z) + y * z,
            Func::Select => {
                if z != 0.0 {
                    y
                } else {
                    x
                }
            }
        }
    }
}

/// One node of the arena; operands are indices of earlier nodes.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Num(f32),
    Bool(bool),
    /// Variable `i` of the names the expression was parsed against.
    Var(usize),
    Neg(usize),
    Not(usize),
    Bin(BinOp, usize, usize),
    /// Unused argument slots are 0 (never read).
    Call(Func, [usize; 3]),
}

/// A parsed, type-checked expression: nodes in evaluation order, the last
/// one the result (always an f32).
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    nodes: Vec<Node>,
    types: Vec<Ty>,
}

impl Expr {
    /// Parses `text` over variable names `vars` (for kinetics: species then
    /// parameters; a name's index is its position, the first one wins).
    pub fn parse(text: &str, vars: &[String]) -> Result<Expr, ExprError> {
        parse::parse(text, vars)
    }

    /// The nodes in evaluation order.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// Evaluates in f32 with `args[i]` the value of variable `i`; `scratch`
    /// is reused between calls. Truth values are carried as 0 and 1.
    pub fn eval(&self, args: &[f32], scratch: &mut Vec<f32>) -> f32 {
        scratch.clear();
        for n in &self.nodes {
            let g = |i: usize| scratch[i];
            let v = match *n {
                Node::Num(x) => x,
                Node::Bool(b) => b as u32 as f32,
                Node::Var(i) => args[i],
                Node::Neg(a) => -g(a),
                Node::Not(a) => (g(a) == 0.0) as u32 as f32,
                Node::Bin(op, a, b) => bin(op, g(a), g(b)),
                Node::Call(f, [a, b, c]) => f.apply(g(a), g(b), g(c)),
            };
            scratch.push(v);
        }
        scratch.last().copied().unwrap_or(0.0)
    }

    /// WGSL statements computing the expression, one `let` per node named
    /// `{prefix}{index}`, and the name of the result. `var(i)` gives the
    /// WGSL that reads variable `i` (e.g. `c[0u]`, `param(m, 3u)`).
    pub fn wgsl(&self, prefix: &str, var: &dyn Fn(usize) -> String) -> (String, String) {
        let mut s = String::new();
        let v = |i: usize| format!("{prefix}{i}");
        for (i, (n, t)) in self.nodes.iter().zip(&self.types).enumerate() {
            let rhs = match *n {
                Node::Num(x) => crate::core::shaders::f32_lit(x),
                Node::Bool(b) => b.to_string(),
                Node::Var(k) => var(k),
                Node::Neg(a) => format!("-{}", v(a)),
                Node::Not(a) => format!("!{}", v(a)),
                Node::Bin(op, a, b) => format!("{} {} {}", v(a), op.wgsl(), v(b)),
                Node::Call(f, args) => {
                    let n = f.signature().0.len();
                    let list: Vec<String> = args[..n].iter().map(|&a| v(a)).collect();
                    format!("{}({})", f.name(), list.join(", "))
                }
            };
            s.push_str(&format!("    let {}: {} = {rhs};\n", v(i), t.wgsl()));
        }
        (s, v(self.nodes.len() - 1))
    }
}

fn bin(op: BinOp, x: f32, y: f32) -> f32 {
    let b = |c: bool| c as u32 as f32;
    match op {
        BinOp::Add => x + y,
        BinOp::Sub => x - y,
        BinOp::Mul => x * y,
        BinOp::Div => x / y,
        // Truncated remainder, as WGSL's f32 `%`.
        BinOp::Rem => x % y,
        BinOp::Lt => b(x < y),
        BinOp::Le => b(x <= y),
        BinOp::Gt => b(x > y),
        BinOp::Ge => b(x >= y),
        BinOp::Eq => b(x == y),
        BinOp::Ne => b(x != y),
        BinOp::And => b(x != 0.0 && y != 0.0),
        BinOp::Or => b(x != 0.0 || y != 0.0),
    }
}

/// True for an identifier the expression language accepts as a species or
/// parameter name: ASCII letter or `_`, then letters, digits, `_`; not
/// starting with `__`, not `true`/`false`.
pub fn valid_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    first_ok
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !s.starts_with("__")
        && s != "true"
        && s != "false"
}
